-- Remove an alert everywhere, checking its owner (delete) or its expiry time (expire).
-- KEYS: 1 record bucket, 2 chat set, 3 expiry zset, 4 outbox stream, 5 active counter,
--       6 chat's symbols hash, 7.. every index or wait set the alert may be in
-- ARGV: 1 id, 2 owner chat ('' = any), 3 reason ('delete' | 'expire'), 4 now,
--       5 leg-state hash prefix (a multi-condition alert's legs go with it)
-- Returns 1 when removed, 0 when it was not there (or not the caller's, or not expired),
-- -1 when its record is bad (left as it is, reported).
local types = {{KEYS[1], 'hash'}, {KEYS[2], 'set'}, {KEYS[3], 'zset'}, {KEYS[4], 'stream'},
               {KEYS[5], 'string'}, {KEYS[6], 'hash'}}
for i = 7, #KEYS do types[#types + 1] = {KEYS[i], 'zset'} end
assert_types(types)
assert_counter(KEYS[5])
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then return 0 end
local f = split(rec)
if not record_ok(f) or not int_ok(redis.call('HGET', KEYS[6], f[F.symbol])) then return -1 end
if ARGV[2] ~= '' and f[F.chat] ~= ARGV[2] then return 0 end
if ARGV[3] == 'expire' then
  local expires = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[1]))
  if not expires or expires > tonumber(ARGV[4]) then return 0 end
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
for i = 7, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end
if f[F.kind] == KIND_LEGS then drop_legs(ARGV[5] .. ARGV[1]) end
if redis.call('HINCRBY', KEYS[6], f[F.symbol], -1) <= 0 then
  redis.call('HDEL', KEYS[6], f[F.symbol])
end
redis.call('DECR', KEYS[5])
if ARGV[3] == 'expire' then
  redis.call('XADD', KEYS[4], '*', J.kind, JOB.expired, J.alert_id, ARGV[1], J.record, rec,
             J.value, '', J.at, ARGV[4], J.tick_ts, ARGV[4])
end
return 1
