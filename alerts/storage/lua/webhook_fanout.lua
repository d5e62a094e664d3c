-- Webhook fan-out of outbox jobs as the delivery worker reads them: each job that a chat's
-- active webhooks want becomes one webhook job per webhook, once (SET NX mark first), so a
-- job read again after a crash or a retry never fans out twice. A chat without webhooks
-- costs one EXISTS.
-- ARGV: 1 webhooks hash prefix, 2 fan-out mark prefix, 3 mark TTL, 4 webhook stream,
--       then per job: chat, mark id, event id base, '1' for a signal, field count N,
--       N name/value pairs (the job's own fields, without the chat)
-- Returns how many webhook jobs were written.
local prefix, marks, ttl, stream = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local hooks = {}  -- chat -> list of {id, signals}
local function hooks_of(chat)
  local known = hooks[chat]
  if known then return known end
  known = {}
  local key = prefix .. chat
  if redis.call('EXISTS', key) == 1 and type_ok(key, 'hash') then
    local all = redis.call('HGETALL', key)
    local off = {}
    for i = 1, #all, 2 do
      local id, what = string.match(all[i], '^(%d+):(%a+)$')
      if what == 'off' then off[id] = true end
    end
    for i = 1, #all, 2 do
      if string.match(all[i], '^%d+$') and not off[all[i]] then
        local ok, rec = pcall(cjson.decode, all[i + 1])
        if ok and type(rec) == 'table' then
          known[#known + 1] = {id = all[i], url = tostring(rec.url), signals = rec.signals == true}
        end
      end
    end
    table.sort(known, function(a, b) return tonumber(a.id) < tonumber(b.id) end)
  end
  hooks[chat] = known
  return known
end

local written, i = 0, 5
while i <= #ARGV do
  local chat, mark, base, signal = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3] == '1'
  local n = tonumber(ARGV[i + 4])
  local fields = {}
  for j = i + 5, i + 4 + 2 * n do fields[#fields + 1] = ARGV[j] end
  i = i + 5 + 2 * n
  local wanted = {}
  for _, h in ipairs(hooks_of(chat)) do
    if h.signals or not signal then wanted[#wanted + 1] = h end
  end
  if #wanted > 0 and redis.call('SET', marks .. mark, '1', 'NX', 'EX', ttl) then
    for _, h in ipairs(wanted) do
      local args = {stream, '*'}
      for _, v in ipairs(fields) do args[#args + 1] = v end
      for _, v in ipairs({J.chat, chat, J.hook, h.id, J.hook_url, h.url,
                          J.hook_event, base .. '-w' .. h.id,
                          J.hook_type, signal and 'signal' or 'alert', J.attempt, '1'}) do
        args[#args + 1] = v
      end
      redis.call('XADD', unpack(args))
      written = written + 1
    end
  end
end
return written
