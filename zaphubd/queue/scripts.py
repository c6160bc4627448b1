"""Lua run atomically inside Redis."""

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
