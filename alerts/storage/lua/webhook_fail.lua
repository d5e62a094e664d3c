-- Count a failed webhook attempt; the `limit`-th failure in a row disables the webhook and
-- queues one notice to its chat (HSETNX: told once, however many workers fail at once).
-- KEYS: 1 the chat's webhooks hash, 2 the personal outbox stream
-- ARGV: 1 webhook id, 2 limit, 3 why disabled, 4.. the notice job's fields
-- Returns the failures in a row (0: the webhook is gone), negative when it was just disabled.
assert_types({{KEYS[1], 'hash'}})
assert_counter(KEYS[1], ARGV[1] .. ':fail')
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':fail', 1)
if n >= tonumber(ARGV[2]) and redis.call('HSETNX', KEYS[1], ARGV[1] .. ':off', ARGV[3]) == 1 then
  local args = {KEYS[2], '*'}
  for k = 4, #ARGV do args[#args + 1] = ARGV[k] end
  redis.call('XADD', unpack(args))
  return -n
end
return n
