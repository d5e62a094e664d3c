-- Take a symbol off a chat's watchlist and drop one reference to it.
-- KEYS: 1 chat watchlist set, 2 watchers hash
-- ARGV: 1 symbol
-- Returns 1 when removed, 0 when it was not on the list.
assert_types({{KEYS[1], 'set'}, {KEYS[2], 'hash'}})
assert_counter(KEYS[2], ARGV[1])
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
return 1
