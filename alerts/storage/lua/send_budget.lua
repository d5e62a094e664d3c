-- Take a send slot from every GCRA limit in KEYS[2..] at once, or from none of them.
-- KEYS[1]: the token's pause key; its PTTL is how long every send still waits after a 429.
-- KEYS[2..]: theoretical arrival time (ms, server clock) of each limit.
-- ARGV[1]: cost in sends; then per limit: emission interval (ms), burst tolerance (ms).
-- Returns {0, 0} when the slot was taken, else {wait_ms, i}: KEYS[i] made it wait longest.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then
  return {paused, 1}
end
local cost = tonumber(ARGV[1])
local tats = {}
local worst, blocker = 0, 0
for i = 2, #KEYS do
  local interval = tonumber(ARGV[2 * i - 2])
  local tolerance = tonumber(ARGV[2 * i - 1])
  local tat = math.max(tonumber(redis.call('GET', KEYS[i]) or '0'), now)
  tats[i] = tat + cost * interval
  local wait = tats[i] - interval - tolerance - now
  if wait > worst then
    worst, blocker = wait, i
  end
end
if blocker > 0 then
  return {math.ceil(worst), blocker}
end
for i = 2, #KEYS do
  local ttl = math.max(1, math.ceil(tats[i] - now))
  redis.call('SET', KEYS[i], string.format('%.3f', tats[i]), 'PX', ttl)
end
return {0, 0}
