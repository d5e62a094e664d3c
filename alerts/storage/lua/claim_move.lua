-- Evaluate one tick of a symbol against its move alerts, every window at once, atomically.
-- Per window the engine passes the current move (% from the window's low or high); the
-- armed index holds alerts by size, so only alerts the move reaches are read.
-- A fired repeat alert (or one of a paused chat) waits in the window's wait set until the
-- move eases below size x (1 - hysteresis); then it is armed again and fires on the next
-- move that reaches its size, once its cooldown has passed.
-- KEYS: 1 last-values hash, 2 outbox stream, 3 expiry zset, 4 active counter,
--       then per window: 2 armed index, 3 wait set (4 + 2i - 1, 4 + 2i)
-- ARGV: 1..7 context (common.lua), 8 tick ts, 9 now, 10 previous tick this engine saw
--       ('' = do not check), 11 hysteresis fraction, 12 price, then per window: the move
--       (%), or nothing at all: a probe from an engine that keeps no windows for the symbol
-- Returns {status, fired, bad ids, move alerts left}: status -1 = tick already evaluated,
-- -2 = another engine evaluated ticks since ARGV[10] (rebuild and retry), -3 = a probe
-- found move alerts (nothing written: build the windows and claim again), 1 = evaluated.
local windows = (#KEYS - 4) / 2
local types = {{KEYS[1], 'hash'}, {KEYS[2], 'stream'}, {KEYS[3], 'zset'}, {KEYS[4], 'string'}}
for i = 5, #KEYS do types[#types + 1] = {KEYS[i], 'zset'} end
assert_types(types)
local C = context(KEYS[2], KEYS[3], KEYS[4])
local tick, now, h = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[11])
local prevs = redis.call('HGET', KEYS[1], 'move:ts')
if prevs and tick <= tonumber(prevs) then return {-1, 0, {}, 0} end
if ARGV[10] ~= '' and (prevs or '') ~= ARGV[10] then return {-2, 0, {}, 0} end
local function left()
  local n = 0
  for i = 5, #KEYS do n = n + redis.call('ZCARD', KEYS[i]) end
  return n
end
if #ARGV == 12 then
  if left() > 0 then return {-3, 0, {}, 0} end
  redis.call('HSET', KEYS[1], 'move:ts', ARGV[8])
  return {1, 0, {}, 0}
end

-- Read phase.
local bad, plan = {}, {}
for w = 1, windows do
  local idx, wait, move = KEYS[3 + 2 * w], KEYS[4 + 2 * w], ARGV[12 + w]
  local back, back_gone = load_all(redis.call('ZRANGEBYSCORE', wait, '(' .. move, '+inf'), C, bad)
  local hit, hit_gone = load_all(redis.call('ZRANGEBYSCORE', idx, '-inf', move), C, bad)
  for _, e in ipairs(hit) do e.decision = decide(e, now, C) end
  plan[w] = {idx = idx, wait = wait, move = move, back = back, back_gone = back_gone,
             hit = hit, hit_gone = hit_gone}
end

-- Write phase.
redis.call('HSET', KEYS[1], 'move:ts', ARGV[8])
local fired = 0
for _, p in ipairs(plan) do
  for _, id in ipairs(p.back_gone) do redis.call('ZREM', p.wait, id) end
  for _, id in ipairs(p.hit_gone) do redis.call('ZREM', p.idx, id) end
  for _, e in ipairs(p.back) do redis.call('ZREM', p.wait, e.id); rearm_entry(e, p.idx) end
  for _, e in ipairs(p.hit) do
    redis.call('ZREM', p.idx, e.id)
    if apply(e, e.decision, ARGV[12], now, ARGV[8], C) or e.decision == 'paused' then
      redis.call('ZADD', p.wait, tonumber(e.f[F.level]) * (1 - h), e.id)
    end
    if e.decision == 'fire' then fired = fired + 1 end
  end
end
settle(C)
return {1, fired, bad, left()}
