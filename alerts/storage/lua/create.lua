-- Store a new alert if the chat is under its quota.
-- KEYS: 1 chat set, 2 record bucket, 3 index zset or move-group set, 4 move-group registry,
--       5 expiry zset
-- ARGV: 1 id, 2 packed record, 3 score (level), 4 quota, 5 expires at (0 = never),
--       6 move-group name ('' when not a move alert)
-- Returns 1 when stored, 0 when the quota is reached.
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[6] ~= '' then
  redis.call('SADD', KEYS[3], ARGV[1])
  redis.call('SADD', KEYS[4], ARGV[6])
else
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
end
if tonumber(ARGV[5]) > 0 then redis.call('ZADD', KEYS[5], ARGV[5], ARGV[1]) end
return 1
