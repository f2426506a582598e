-- A fixed JSON POST (a key operation): `wrk ... -s post.lua <url> -- '<json body>'`; the Host and
-- Authorization headers come from -H.
function init(args)
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.body = args[1] or "{}"
end
