"""Lua run atomically inside Redis.

The keys of one script call always share a hash tag (see keys.py): on a Redis Cluster a
script may only touch keys of one slot.
"""

from __future__ import annotations

#: Move due jobs from the delayed set into the stream, atomically, at most ARGV[2] of them.
#: KEYS[1] = delayed set, KEYS[2] = stream; ARGV[1] = now (ms). Members are JSON objects of
#: strings (see job.delayed_member) so XADD receives them byte for byte.
MOVE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  local job = cjson.decode(member)
  redis.call('XADD', KEYS[2], '*', 'j', job.j, 'd', job.d, 'a', job.a, 't', job.t)
  redis.call('ZREM', KEYS[1], member)
end
return #due
"""

#: Add many jobs to one stream in one round trip. KEYS[1] = stream; ARGV = j, d, a, t for
#: each job in turn. Returns the entry ids. Packing one script call costs far less in
#: redis-py than one XADD per job.
XADD_MANY = """
local ids = {}
for i = 1, #ARGV, 4 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*',
    'j', ARGV[i], 'd', ARGV[i + 1], 'a', ARGV[i + 2], 't', ARGV[i + 3])
end
return ids
"""

#: Put a failed entry back as a delayed job and settle its stream entry, atomically.
#: KEYS[1] = delayed set, KEYS[2] = stream; ARGV[1] = member, ARGV[2] = due (ms),
#: ARGV[3] = group, ARGV[4] = entry id.
RETRY_LATER = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('XACK', KEYS[2], ARGV[3], ARGV[4])
redis.call('XDEL', KEYS[2], ARGV[4])
return 1
"""

#: Move an entry to the dead letters, atomically. KEYS[1] = dead-letter stream, KEYS[2] =
#: stream, KEYS[3] = reclaims hash; ARGV[1] = group, ARGV[2] = entry id, then the dead
#: letter's field/value pairs.
DEAD_LETTER = """
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
return 1
"""
