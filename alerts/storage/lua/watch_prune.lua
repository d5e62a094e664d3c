-- Stop tracking extra symbols that no chat watches and no alert uses any more.
-- Atomic with alert creation and watch_add, so a symbol is never dropped while in use.
-- KEYS: 1 tracked set, 2 watchers hash, then ARGV[1] keys per symbol: every index and
--       wait set an alert of the symbol can be in
-- ARGV: 1 sets per symbol, then the symbols
-- Returns the symbols removed.
local per = tonumber(ARGV[1])
local types = {{KEYS[1], 'set'}, {KEYS[2], 'hash'}}
for i = 3, #KEYS do types[#types + 1] = {KEYS[i], 'zset'} end
assert_types(types)
local drop = {}
for i = 2, #ARGV do
  local sym = ARGV[i]
  local base = 2 + (i - 2) * per
  local watchers = redis.call('HGET', KEYS[2], sym)
  local used = watchers ~= false and (tonumber(watchers) or 1) > 0  -- unreadable: keep it
  for j = 1, per do
    if used then break end
    if redis.call('ZCARD', KEYS[base + j]) > 0 then used = true end
  end
  if not used and redis.call('SISMEMBER', KEYS[1], sym) == 1 then drop[#drop + 1] = sym end
end
for _, sym in ipairs(drop) do
  redis.call('SREM', KEYS[1], sym)
  redis.call('HDEL', KEYS[2], sym)
end
return drop
