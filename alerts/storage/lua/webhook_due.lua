-- Move webhook jobs whose backoff is over from the retry zset back into their stream.
-- One script, so a job is always in exactly one of the two (restart-safe).
-- KEYS: 1 retry zset, 2 webhook stream
-- ARGV: 1 now, 2 most jobs to move
-- Returns how many moved; a member that is not a JSON object of strings is dropped.
assert_types({{KEYS[1], 'zset'}, {KEYS[2], 'stream'}})
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local moved = 0
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local ok, fields = pcall(cjson.decode, member)
  if ok and type(fields) == 'table' then
    local args = {KEYS[2], '*'}
    for k, v in pairs(fields) do args[#args + 1] = tostring(k); args[#args + 1] = tostring(v) end
    if #args > 2 then redis.call('XADD', unpack(args)); moved = moved + 1 end
  end
end
return moved
