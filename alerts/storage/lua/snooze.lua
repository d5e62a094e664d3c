-- Snooze a repeat alert: it stays armed but fires nothing until ARGV[3] (compare-and-set).
-- KEYS: 1 record bucket
-- ARGV: 1 id, 2 owner chat, 3 snoozed-until (unix s)
-- Returns 1 when snoozed, 0 when the alert is gone or not the caller's, -1 when it is
-- not a repeat alert (a once-alert is deleted when it fires, so there is nothing to snooze),
-- -2 when its record is bad (left as it is, reported).
assert_types({{KEYS[1], 'hash'}})
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec then return 0 end
local f = split(rec)
if not record_ok(f) then return -2 end
if f[F.chat] ~= ARGV[2] then return 0 end
if tonumber(f[F.cooldown]) <= 0 then return -1 end
f[F.snoozed_until] = ARGV[3]
redis.call('HSET', KEYS[1], ARGV[1], table.concat(f, '|'))
return 1
