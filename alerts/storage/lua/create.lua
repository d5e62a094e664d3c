-- Store a new alert if the chat is under its alert quota and its symbol cap.
-- KEYS: 1 chat set, 2 record bucket, 3 index zset (price/volume index or move index),
--       4 expiry zset, 5 active counter, 6 chat's symbols hash, 7 chat's watchlist set
-- ARGV: 1 id, 2 packed record, 3 score, 4 quota, 5 expires at (0 = never), 6 symbol,
--       7 most symbols per chat, 8.. symbols that never count (the defaults)
-- Returns 1 when stored, 0 when the quota is reached, -1 when the symbol cap is.
assert_types({{KEYS[1], 'set'}, {KEYS[2], 'hash'}, {KEYS[3], 'zset'}, {KEYS[4], 'zset'},
              {KEYS[5], 'string'}, {KEYS[6], 'hash'}, {KEYS[7], 'set'}})
assert_counter(KEYS[5])
assert_counter(KEYS[6], ARGV[6])
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
if over_symbol_cap(KEYS[7], KEYS[6], ARGV[6], tonumber(ARGV[7]), 8) then return -1 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
if tonumber(ARGV[5]) > 0 then redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1]) end
redis.call('HINCRBY', KEYS[6], ARGV[6], 1)
redis.call('INCR', KEYS[5])
return 1
