-- One-shot migration of one legacy move group (one window and size) into the armed
-- move index of its window. A window outside the fixed set becomes the largest allowed
-- window under it (a move within the shorter window is also one within the longer: no
-- false alert). Bad records stay in the legacy group (reported), so nothing is lost.
-- KEYS: 1 group set, 2 group registry set, 3 last-values hash,
--       4.. the armed index of each allowed window (ascending, as ARGV 9..)
-- ARGV: 1..7 context (common.lua), 8 registry member 'WINDOW:PCT', 9.. allowed windows
-- Returns {moved, bad ids}.
local types = {{KEYS[1], 'set'}, {KEYS[2], 'set'}, {KEYS[3], 'hash'}}
for i = 4, #KEYS do types[#types + 1] = {KEYS[i], 'zset'} end
assert_types(types)
local C = context('', '', '')
local bad = {}
local entries, gone = load_all(redis.call('SMEMBERS', KEYS[1]), C, bad)
for _, e in ipairs(entries) do
  local w, pick = tonumber(e.f[F.window]), 1
  for i = 9, #ARGV do if tonumber(ARGV[i]) <= w then pick = i - 8 end end
  e.f[F.window] = ARGV[8 + pick]
  e.f[F.state] = 'R'  -- rearm_entry writes the record back armed ('A')
  rearm_entry(e, KEYS[3 + pick])
  redis.call('SREM', KEYS[1], e.id)
end
for _, id in ipairs(gone) do redis.call('SREM', KEYS[1], id) end
if #bad == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[8])
  redis.call('HDEL', KEYS[3], 'move:' .. ARGV[8] .. ':ts')
end
return {#entries, bad}
