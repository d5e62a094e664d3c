-- Stop tracking extra symbols that no chat watches and no alert uses any more.
-- Atomic with alert creation and watch_add, so a symbol is never dropped while in use.
-- KEYS: 1 tracked set, 2 watchers hash, then 9 keys per symbol: the 8 alert zsets
--       (index and rearm x price and volume x up and down) and the move-group registry
-- ARGV: per symbol: the symbol, its move-group key prefix
-- Returns the symbols removed.
local removed = {}
for i = 1, #ARGV / 2 do
  local sym = ARGV[2 * i - 1]
  local base = 2 + (i - 1) * 9
  local used = tonumber(redis.call('HGET', KEYS[2], sym) or '0') > 0
  if not used then
    for j = 1, 8 do
      if redis.call('ZCARD', KEYS[base + j]) > 0 then used = true; break end
    end
  end
  if not used then
    for _, group in ipairs(redis.call('SMEMBERS', KEYS[base + 9])) do
      if redis.call('SCARD', ARGV[2 * i] .. group) > 0 then used = true; break end
    end
  end
  if not used and redis.call('SREM', KEYS[1], sym) == 1 then
    redis.call('HDEL', KEYS[2], sym)
    removed[#removed + 1] = sym
  end
end
return removed
