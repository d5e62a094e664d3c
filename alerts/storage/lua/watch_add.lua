-- Add a symbol to a chat's watchlist, within the per-chat symbol cap and the global cap.
-- KEYS: 1 chat watchlist set, 2 watchers hash (reference counts), 3 tracked set,
--       4 chat's alert symbols hash
-- ARGV: 1 symbol, 2 most symbols per chat (watchlist and alerts together),
--       3 most extra symbols tracked in all, 4.. symbols that never count (the defaults)
-- Returns 1 added, 0 already on the list, -1 the chat's symbol cap reached, -2 the global cap.
assert_types({{KEYS[1], 'set'}, {KEYS[2], 'hash'}, {KEYS[3], 'set'}, {KEYS[4], 'hash'}})
assert_counter(KEYS[2], ARGV[1])
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
if over_symbol_cap(KEYS[1], KEYS[4], ARGV[1], tonumber(ARGV[2]), 4) then return -1 end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0
   and redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[3]) then
  return -2
end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('SADD', KEYS[3], ARGV[1])
return 1
