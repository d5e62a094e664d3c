-- Claim one due digest: only the caller that still sees the schedule it read wins, so
-- two replicas (or a restarted process) never both send it. Claim, reschedule and the
-- outbox job are one atomic step: a crash leaves either nothing done or all of it.
-- A paused chat's digest is rescheduled but not queued (it could not be delivered).
-- KEYS: 1 due zset, 2 config hash, 3 digest outbox stream, 4 the chat's paused mark
-- ARGV: 1 chat, 2 due score read, 3 packed schedule read, 4 next run, 5 '1' to send,
--       6.. field/value pairs of the outbox job
-- Returns 1 when claimed (job appended if sending), 2 when claimed but the chat is
-- paused (nothing appended), 0 when someone else got it first.
assert_types({{KEYS[1], 'zset'}, {KEYS[2], 'hash'}, {KEYS[3], 'stream'}})
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
local packed = redis.call('HGET', KEYS[2], ARGV[1])
if not packed then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
if packed ~= ARGV[3] then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
if ARGV[5] == '1' then
  if redis.call('EXISTS', KEYS[4]) == 1 then return 2 end
  local fields = {}
  for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('XADD', KEYS[3], '*', unpack(fields))
end
return 1
