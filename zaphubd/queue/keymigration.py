"""Moving a single Redis from the queue key names before hash tags to the current ones.

Runs at startup, before any consumer reads. An old key whose new name is free is renamed:
RENAME keeps a stream whole, with its consumer group, pending entries and their owners, so
entries that were in flight when the old daemon stopped are re-read or reclaimed as usual.
When both names exist (during a rolling upgrade a daemon of the old version kept writing to
the old name after a new one had started), the old key's content is merged into the new one,
in chunks, each chunk one atomic script: stream entries are added again (they run again, as
after any crash: handlers are idempotent), delayed jobs keep their due time, recovery counters
keep the higher count. Several daemons may run this at once: a chunk moves each item once.

A Redis Cluster is skipped: it has no data of a version older than hash tags, and its keys of
one queue could not be moved by one script anyway (the old names hash to different slots).
The old names are known, so no SCAN over the keyspace is needed.
"""

from __future__ import annotations

import logging

from redis.asyncio.cluster import RedisCluster

from zaphubd.queue import keys
from zaphubd.queue.redis import RedisClient

log = logging.getLogger("zaphubd.queue")
CHUNK = 500

#: KEYS[1] = old name, KEYS[2] = new name; ARGV[1] = chunk size. Returns -1 if the old key
#: was renamed, else how many items moved (0: nothing left, the old key is gone).
_MOVE = """
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('RENAME', KEYS[1], KEYS[2])
  return -1
end
local n = tonumber(ARGV[1])
local moved = 0
if kind == 'stream' then
  for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', n)) do
    redis.call('XADD', KEYS[2], '*', unpack(entry[2]))
    redis.call('XDEL', KEYS[1], entry[1])
    moved = moved + 1
  end
  if redis.call('XLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
elseif kind == 'zset' then
  local items = redis.call('ZRANGE', KEYS[1], 0, n - 1, 'WITHSCORES')
  for i = 1, #items, 2 do
    redis.call('ZADD', KEYS[2], 'NX', items[i + 1], items[i])
    redis.call('ZREM', KEYS[1], items[i])
    moved = moved + 1
  end
elseif kind == 'hash' then
  local fields = redis.call('HKEYS', KEYS[1])
  for i = 1, math.min(n, #fields) do
    local old = tonumber(redis.call('HGET', KEYS[1], fields[i]))
    local new = tonumber(redis.call('HGET', KEYS[2], fields[i]) or '0')
    redis.call('HSET', KEYS[2], fields[i], math.max(old, new))
    redis.call('HDEL', KEYS[1], fields[i])
    moved = moved + 1
  end
else
  return redis.error_reply('unexpected type ' .. kind .. ' of ' .. KEYS[1])
end
return moved
"""


async def migrate_queue_keys(redis: RedisClient) -> dict[str, str]:
    """Move every old queue key to its current name; return {old: what was done}."""
    if isinstance(redis, RedisCluster):
        return {}
    move = redis.register_script(_MOVE)
    done: dict[str, str] = {}
    for queue in keys.ALL_QUEUES:
        for old, new in keys.legacy_queue_keys(queue).items():
            moved = int(await move(keys=[old, new], args=[CHUNK]))
            if moved == -1:
                done[old] = f"renamed to {new}"
                continue
            total = moved
            while moved:
                moved = int(await move(keys=[old, new], args=[CHUNK]))
                total += moved
            if total:
                done[old] = f"merged into {new} ({total} item(s))"
    for old, what in done.items():
        log.info("redis key %s %s", old, what)
    return done
