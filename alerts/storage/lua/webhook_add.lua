-- Add a webhook to a chat, within the per-chat cap; ids come from a counter, never reused,
-- so a job queued for a removed webhook can never reach the one added after it.
-- KEYS: 1 the chat's webhooks hash, 2 the id counter
-- ARGV: 1 most webhooks per chat, 2 the record (JSON: url, secret, signals, created), 3 url
-- Returns the new id, -1 the chat has its maximum, -2 that URL is already registered.
assert_types({{KEYS[1], 'hash'}})
assert_counter(KEYS[2])
local n = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if not string.find(all[i], ':', 1, true) then
    n = n + 1
    local ok, rec = pcall(cjson.decode, all[i + 1])
    if ok and type(rec) == 'table' and rec.url == ARGV[3] then return -2 end
  end
end
if n >= tonumber(ARGV[1]) then return -1 end
local id = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], tostring(id), ARGV[2])
return id
