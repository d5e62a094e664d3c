-- Fold one accepted tick into its price-history bucket: `open high low close`.
-- KEYS: 1 the hour's chunk hash
-- ARGV: 1 bucket field, 2 price, 3 seconds to keep the chunk (25 h after its hour ends,
--       counted from the tick's own time, so replayed history lives as long as live)
-- Returns 1 when stored, -1 when the stored bucket is unreadable (left as it is, reported).
assert_types({{KEYS[1], 'hash'}})
local p = ARGV[2]
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local value = p .. ' ' .. p .. ' ' .. p .. ' ' .. p
if cur then
  local o, hi, lo = string.match(cur, '^(%S+) (%S+) (%S+) %S+$')
  if not (tonumber(o) and tonumber(hi) and tonumber(lo)) then return -1 end
  if tonumber(p) > tonumber(hi) then hi = p end
  if tonumber(p) < tonumber(lo) then lo = p end
  value = o .. ' ' .. hi .. ' ' .. lo .. ' ' .. p
end
redis.call('HSET', KEYS[1], ARGV[1], value)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
