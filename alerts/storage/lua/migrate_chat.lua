-- Move everything a chat owns from its old id to its new one (a Telegram group upgraded
-- to a supergroup), in one atomic step: the alert records' chat field and the chat's
-- alert set, subscriptions (both directions), watchlist (watcher counts stay right), the
-- digest schedule, the per-chat symbol counts, the paused mark and the webhooks (when the
-- new chat has none of its own). Safe to run twice:
-- the second run finds nothing. Every key type is checked before the first write.
-- KEYS: 1 old alert set, 2 new alert set, 3 old subscriptions, 4 new subscriptions,
--       5 old watchlist, 6 new watchlist, 7 watchers hash, 8 digest config hash,
--       9 digest due zset, 10 old paused mark, 11 new paused mark,
--       12 old chat-symbol counts, 13 new chat-symbol counts, 14 old webhooks, 15 new webhooks
-- ARGV: 1 old chat, 2 new chat, 3 record bucket prefix, 4 records per bucket,
--       5 subscribers key prefix
-- Returns the number of alerts moved.
assert_types({{KEYS[1], 'set'}, {KEYS[2], 'set'}, {KEYS[3], 'set'}, {KEYS[4], 'set'},
              {KEYS[5], 'set'}, {KEYS[6], 'set'}, {KEYS[7], 'hash'}, {KEYS[8], 'hash'},
              {KEYS[9], 'zset'}, {KEYS[10], 'string'}, {KEYS[11], 'string'},
              {KEYS[12], 'hash'}, {KEYS[13], 'hash'}, {KEYS[14], 'hash'}, {KEYS[15], 'hash'}})
local old, new = ARGV[1], ARGV[2]
local C = {bucket = ARGV[3], per_bucket = tonumber(ARGV[4])}
local ids = redis.call('SMEMBERS', KEYS[1])
for _, id in ipairs(ids) do
  local bkey = bucket_of(C, id)
  local rec = redis.call('HGET', bkey, id)
  if rec then
    local f = split(rec)
    f[1] = new
    redis.call('HSET', bkey, id, table.concat(f, '|'))
  end
  redis.call('SADD', KEYS[2], id)
end
redis.call('DEL', KEYS[1])
for _, name in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  redis.call('SREM', ARGV[5] .. name, old)
  redis.call('SADD', ARGV[5] .. name, new)
  redis.call('SADD', KEYS[4], name)
end
redis.call('DEL', KEYS[3])
for _, sym in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  if redis.call('SADD', KEYS[6], sym) == 0 then  -- both watched it: one reference less
    if redis.call('HINCRBY', KEYS[7], sym, -1) <= 0 then redis.call('HDEL', KEYS[7], sym) end
  end
end
redis.call('DEL', KEYS[5])
local cfg = redis.call('HGET', KEYS[8], old)
if cfg then
  if redis.call('HEXISTS', KEYS[8], new) == 0 then  -- a schedule set in the new chat wins
    redis.call('HSET', KEYS[8], new, cfg)
    local due = redis.call('ZSCORE', KEYS[9], old)
    if due then redis.call('ZADD', KEYS[9], due, new) end
  end
  redis.call('HDEL', KEYS[8], old)
  redis.call('ZREM', KEYS[9], old)
end
local counts = redis.call('HGETALL', KEYS[12])
for i = 1, #counts, 2 do redis.call('HINCRBY', KEYS[13], counts[i], counts[i + 1]) end
redis.call('DEL', KEYS[12])
if redis.call('EXISTS', KEYS[14]) == 1 and redis.call('EXISTS', KEYS[15]) == 0 then
  redis.call('RENAME', KEYS[14], KEYS[15])
end
local reason = redis.call('GET', KEYS[10])
if reason then
  redis.call('SET', KEYS[11], reason)
  redis.call('DEL', KEYS[10])
end
return #ids
