-- One-shot: rebuild the counters of existing data (alerts/storage/migrate.py), atomically.
-- Mode 'active': KEYS 1 active counter, 2 id sequence; the number of stored records.
-- Mode 'chat': KEYS 1 chat set, 2 chat's symbols hash; symbol -> alerts of the chat.
-- ARGV: 1..7 context (common.lua), 8 mode
-- Returns the bad ids / keys skipped (reported by the caller).
local C = context('', '', '')
local bad = {}
if ARGV[8] == 'active' then
  assert_types({{KEYS[1], 'string'}, {KEYS[2], 'string'}})
  local last = math.floor((tonumber(redis.call('GET', KEYS[2]) or '0') or 0) / C.per_bucket)
  local n = 0
  for b = 0, last do
    local key = C.bucket .. b
    if type_ok(key, 'hash') then n = n + redis.call('HLEN', key) else bad[#bad + 1] = key end
  end
  redis.call('SET', KEYS[1], n)
  return bad
end
assert_types({{KEYS[1], 'set'}, {KEYS[2], 'hash'}})
local entries = load_all(redis.call('SMEMBERS', KEYS[1]), C, bad)
redis.call('DEL', KEYS[2])
for _, e in ipairs(entries) do redis.call('HINCRBY', KEYS[2], e.f[F.symbol], 1) end
return bad
