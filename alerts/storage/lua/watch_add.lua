-- Add a symbol to a chat's watchlist, within the per-chat limit and the global cap.
-- KEYS: 1 chat watchlist set, 2 watchers hash (reference counts), 3 tracked set
-- ARGV: 1 symbol, 2 per-chat limit, 3 most extra symbols tracked in all
-- Returns 1 added, 0 already on the list, -1 the chat's limit reached, -2 the global cap.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0
   and redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[3]) then
  return -2
end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('SADD', KEYS[3], ARGV[1])
return 1
