-- Durable secret SET: every request PUTs a new secret named set-<tag>-<thread>-<n>.
-- `wrk ... -s put.lua <url> -- <tag>`; the Host and Authorization headers come from -H.
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

function init(args)
   tag = args[1] or "x"
   n = 0
   wrk.method = "PUT"
   wrk.headers["Content-Type"] = "application/json"
   wrk.body = '{"value":"bench-value-0123456789abcdef0123456789abcdef"}'
end

function request()
   n = n + 1
   return wrk.format(nil, "/secrets/set-" .. tag .. "-" .. id .. "-" .. n .. "?api-version=7.4")
end
