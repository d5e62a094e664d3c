-- Shared helpers, prepended to claim.lua and claim_group.lua by alerts/scripts.py.
-- A record is `chat|symbol|kind|level|ref|created|expires|cooldown|last_fired|fires|window|state`
-- (alerts/model.py FIELDS); buckets hold 128 records each (id >> 7).
local function split(s)
  local t, i = {}, 1
  for part in (s .. '|'):gmatch('(.-)|') do t[i] = part; i = i + 1 end
  return t
end

local function bucket_of(prefix, id)
  return prefix .. math.floor(tonumber(id) / 128)
end

local function emit(C, kind, id, rec, value, now, tick)
  redis.call('XADD', C.outbox, '*', 't', kind, 'id', id, 'rec', rec, 'v', value,
             'at', tostring(now), 'tick', tostring(tick))
end

-- Fire one alert atomically: expire it, skip it (chat paused / cooldown), or move a
-- once-alert to history, and append its delivery job to the outbox.
-- Returns a status and the record's fields.
local function fire(id, value, now, tick, C)
  local bkey = bucket_of(C.bucket, id)
  local rec = redis.call('HGET', bkey, id)
  if not rec then return 'gone', nil end
  local f = split(rec)
  local chatkey = C.chat .. f[1]
  local expires = tonumber(f[7])
  if expires > 0 and expires <= now then
    redis.call('HDEL', bkey, id); redis.call('SREM', chatkey, id); redis.call('ZREM', C.expiry, id)
    emit(C, 'expired', id, rec, value, now, tick)
    return 'expired', f
  end
  if redis.call('EXISTS', C.paused .. f[1]) == 1 then return 'paused', f end
  local cooldown = tonumber(f[8])
  if cooldown > 0 then
    local last = tonumber(f[9])
    f[12] = 'R'
    -- quiet while in cooldown, or snoozed (optional 13th field: snoozed until)
    if (last > 0 and now - last < cooldown) or (tonumber(f[13] or '') or 0) > now then
      redis.call('HSET', bkey, id, table.concat(f, '|'))
      return 'suppressed', f
    end
    f[9] = tostring(now); f[10] = tostring(tonumber(f[10]) + 1)
    redis.call('HSET', bkey, id, table.concat(f, '|'))
  else
    redis.call('HDEL', bkey, id); redis.call('SREM', chatkey, id); redis.call('ZREM', C.expiry, id)
    redis.call('SET', C.history .. id, rec .. '|' .. value .. '|' .. tostring(now), 'EX', C.history_ttl)
  end
  emit(C, 'fire', id, rec, value, now, tick)
  return 'fired', f
end
