-- Store a new alert if the chat is under its alert quota and its symbol cap.
-- KEYS: 1 chat set, 2 record bucket, 3 index zset (price/volume/condition or move index;
--       for a multi-condition alert: its leg-state hash), 4 expiry zset, 5 active counter,
--       6 chat's symbols hash, 7 chat's watchlist set, 8 the symbol's last-values hash
-- ARGV: 1 id, 2 packed record, 3 score, 4 quota, 5 expires at (0 = never), 6 symbol,
--       7 most symbols per chat, 8 number of legs L (0 = a one-series alert), then L times
--       (leg zset, series field, 'u' | 'd', level), then symbols that never count (defaults)
-- A leg starts true when the series' last evaluated value already satisfies it.
-- Returns 1 when stored, 0 when the quota is reached, -1 when the symbol cap is.
local legs = tonumber(ARGV[8])
local types = {{KEYS[1], 'set'}, {KEYS[2], 'hash'}, {KEYS[3], legs > 0 and 'hash' or 'zset'},
               {KEYS[4], 'zset'}, {KEYS[5], 'string'}, {KEYS[6], 'hash'}, {KEYS[7], 'set'},
               {KEYS[8], 'hash'}}
for i = 1, legs do types[#types + 1] = {ARGV[5 + 4 * i], 'zset'} end
assert_types(types)
assert_counter(KEYS[5])
assert_counter(KEYS[6], ARGV[6])
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
if over_symbol_cap(KEYS[7], KEYS[6], ARGV[6], tonumber(ARGV[7]), 9 + 4 * legs) then return -1 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if legs == 0 then redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1]) end
for i = 1, legs do
  local base = 5 + 4 * i
  local zkey, field, way, level = ARGV[base], ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]
  local member = ARGV[1] .. ':' .. i .. ':' .. way
  local last = tonumber(redis.call('HGET', KEYS[8], field))
  redis.call('ZADD', zkey, level, member)
  redis.call('HSET', KEYS[3], i, leg_holds(way, last, tonumber(level)) and 1 or 0,
             'z' .. i, zkey, 'm' .. i, member)
end
if legs > 0 then redis.call('HSET', KEYS[3], 'n', legs) end
if tonumber(ARGV[5]) > 0 then redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1]) end
redis.call('HINCRBY', KEYS[6], ARGV[6], 1)
redis.call('INCR', KEYS[5])
return 1
