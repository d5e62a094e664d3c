-- The bar series of one symbol that alerts still use; forgets the others (atomically, so
-- a series registered by a concurrent create is never forgotten while an alert uses it).
-- KEYS: 1 the symbol's bar-series registry hash
-- ARGV: 1 index prefix (`P:ix:{SYM}:`), 2 wait-set prefix (`P:rearm:{SYM}:`),
--       3 legs prefix (`P:lx:{SYM}:`)
-- Returns the series keys in use.
assert_types({{KEYS[1], 'hash'}})
local used, unused = {}, {}
for _, series in ipairs(redis.call('HKEYS', KEYS[1])) do
  local n = redis.call('ZCARD', ARGV[3] .. series)
  for _, way in ipairs({'up', 'down'}) do
    n = n + redis.call('ZCARD', ARGV[1] .. series .. ':' .. way)
        + redis.call('ZCARD', ARGV[2] .. series .. ':' .. way)
  end
  if n > 0 then used[#used + 1] = series else unused[#unused + 1] = series end
end
if #unused > 0 then redis.call('HDEL', KEYS[1], unpack(unused)) end
return used
