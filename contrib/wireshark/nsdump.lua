-- nsdump.lua: nsdump's facts as Wireshark fields.
--
-- Install: copy this file to Wireshark's personal Lua plugins folder
-- (Help > About Wireshark > Folders; on Linux ~/.local/lib/wireshark/plugins/),
-- or run `nsdump wireshark-plugin --install`; for one run only:
--   tshark -X lua_script:nsdump.lua -r trace.pcapng -Y 'nsdump.drop.reason'
--
-- A post-dissector: it reads what nsdump wrote where pcapng puts it, so a
-- file reads whole without it (Wireshark 4.0 and later):
--   frame.interface_name    the capture point, NS/IFACE (NS/drops: the kernel's drops)
--   frame.interface_description  "namespace NS (inode N), veth peer NS2/IFACE2, ..."
--   epb_flags direction     In / Out
--   frame.comment           "drop: REASON at LOCATION (IFACE)" on a drop record, and
--                           "A->B KIND: CAUSE in NS[; fix: COMMAND]" on a probe's packets
--   Custom Block, PEN 32473 the facts a trace judged and its verdicts, as JSON
--                           {"nsdump_facts":1,"facts":{...},"verdicts":[...]}
-- Every sighting of one packet carries the same frame.packet_id.

local nsdump = Proto("nsdump", "nsdump capture point and verdict")

local pf = {
	point = ProtoField.string("nsdump.point", "Capture point"),
	namespace = ProtoField.string("nsdump.namespace", "Namespace"),
	iface = ProtoField.string("nsdump.interface", "Interface"),
	inode = ProtoField.uint64("nsdump.inode", "Namespace inode"),
	container = ProtoField.string("nsdump.container", "Container"),
	dir = ProtoField.string("nsdump.dir", "Direction"),
	drop = ProtoField.bool("nsdump.drop", "Dropped by the kernel"),
	drop_reason = ProtoField.string("nsdump.drop.reason", "Drop reason"),
	drop_location = ProtoField.string("nsdump.drop.location", "Drop location"),
	drop_iface = ProtoField.string("nsdump.drop.interface", "Drop interface"),
	probe = ProtoField.string("nsdump.probe", "Probe"),
	cause = ProtoField.string("nsdump.verdict.cause", "Cause"),
	verdict_ns = ProtoField.string("nsdump.verdict.namespace", "Namespace at fault"),
	fix = ProtoField.string("nsdump.verdict.fix", "Fix"),
	ok = ProtoField.bool("nsdump.verdict.ok", "Probe succeeded"),
	detail = ProtoField.string("nsdump.verdict.detail", "Why"),
	facts = ProtoField.string("nsdump.facts", "Facts"),
}
nsdump.fields = pf

local f_ifname = Field.new("frame.interface_name")
local f_ifdesc = Field.new("frame.interface_description")
local f_dir = Field.new("frame.packet_flags_direction")
local f_comment = Field.new("frame.comment")
local f_pen = Field.new("frame.cb_pen")

local FACTS_PEN = 32473

-- A small JSON reader (Wireshark's Lua has none): objects keep their key
-- order, for a tree that reads as the file was written.
local json = {}

local function skip(s, i)
	return s:find("[^ \t\r\n]", i) or #s + 1
end

local escapes = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }

local function str(s, i)
	local out, j = {}, i + 1
	while j <= #s do
		local c = s:sub(j, j)
		if c == '"' then
			return table.concat(out), j + 1
		elseif c == "\\" then
			local e = s:sub(j + 1, j + 1)
			if e == "u" then
				local code = tonumber(s:sub(j + 2, j + 5), 16) or 63
				if code < 0x80 then
					out[#out + 1] = string.char(code)
				elseif code < 0x800 then
					out[#out + 1] = string.char(0xC0 + math.floor(code / 64), 0x80 + code % 64)
				else
					out[#out + 1] = string.char(0xE0 + math.floor(code / 4096), 0x80 + math.floor(code / 64) % 64, 0x80 + code % 64)
				end
				j = j + 6
			else
				out[#out + 1] = escapes[e] or e
				j = j + 2
			end
		else
			out[#out + 1] = c
			j = j + 1
		end
	end
	error("unterminated string")
end

local value

local function list(s, i, close, item)
	local out = { keys = {} }
	i = skip(s, i + 1)
	if s:sub(i, i) == close then
		return out, i + 1
	end
	while true do
		i = item(out, i)
		i = skip(s, i)
		local c = s:sub(i, i)
		if c == close then
			return out, i + 1
		elseif c ~= "," then
			error("expected , or " .. close .. " at " .. i)
		end
		i = skip(s, i + 1)
	end
end

value = function(s, i)
	i = skip(s, i)
	local c = s:sub(i, i)
	if c == "{" then
		local obj, j = list(s, i, "}", function(o, k)
			local key, n = str(s, k)
			n = skip(s, n)
			if s:sub(n, n) ~= ":" then error("expected : at " .. n) end
			local v
			v, n = value(s, n + 1)
			o.keys[#o.keys + 1] = key
			o[key] = v
			return n
		end)
		obj.object = true
		return obj, j
	elseif c == "[" then
		return list(s, i, "]", function(o, k)
			local v, n = value(s, k)
			o[#o + 1] = v
			return n
		end)
	elseif c == '"' then
		return str(s, i)
	end
	local lit = s:match("^[%w%.%+%-]+", i)
	if not lit then error("unexpected " .. c .. " at " .. i) end
	if lit == "true" then return true, i + 4 end
	if lit == "false" then return false, i + 5 end
	if lit == "null" then return json.null, i + 4 end
	return tonumber(lit) or lit, i + #lit
end

json.null = setmetatable({}, { __tostring = function() return "null" end })

function json.decode(s)
	local ok, v = pcall(value, s, 1)
	if ok then return v end
	return nil, v
end

-- The point's namespace is all before the last "/": a namespace may be a
-- path (/proc/42/ns/net/eth0). An interface name without one (a file
-- another tool wrote) names no namespace.
local function split_point(point)
	local ns, ifc = point:match("^(.*)/([^/]*)$")
	return ns, ifc or point
end

local function add_point(tree, point, desc)
	local ns, ifc = split_point(point)
	tree:add(pf.point, point)
	if ns then tree:add(pf.namespace, ns) end
	tree:add(pf.iface, ifc)
	if desc then
		local container = desc:match("^container ([^,]+)")
		if container then tree:add(pf.container, container) end
		local inode = desc:match("%(inode (%d+)%)")
		if inode then
			local n = tonumber(inode) -- an inode fits a double's 53 bits
			tree:add(pf.inode, UInt64.new(n % 4294967296, math.floor(n / 4294967296)))
		end
	end
	return ns, ifc
end

-- "A->B icmp-echo: dropped in B; fix: ip netns exec B nft delete rule ..."
local function parse_verdict(line)
	local probe, cause, rest = line:match("^(%S+%->%S+ %S+): (%S+) in (.*)$")
	if not probe then return nil end
	local ns, fix = rest:match("^(.-); fix: (.*)$")
	return { probe = probe, cause = cause, namespace = ns or rest, fix = fix }
end

local function add_verdict(tree, v, detail)
	local t = tree:add(nsdump, v.probe .. ": " .. v.cause .. " in " .. v.namespace)
	t:add(pf.probe, v.probe)
	t:add(pf.cause, v.cause)
	t:add(pf.verdict_ns, v.namespace)
	t:add(pf.ok, v.cause == "ok")
	if v.fix and v.fix ~= "" then t:add(pf.fix, v.fix) end
	if detail and detail ~= "" then t:add(pf.detail, detail) end
	return t
end

local function comment_lines()
	local out = {}
	for _, c in ipairs({ f_comment() }) do
		for line in tostring(c.value):gmatch("[^\n]+") do
			out[#out + 1] = line
		end
	end
	return out
end

local function packet(tree, pinfo)
	local ifname = f_ifname()
	if not ifname then return end
	local point = tostring(ifname.value)
	local desc = f_ifdesc()
	desc = desc and tostring(desc.value)
	local t = tree:add(nsdump, "nsdump: " .. point)
	add_point(t, point, desc)
	local dir = f_dir()
	if dir then
		local d = ({ [1] = "In", [2] = "Out" })[dir.value]
		if d then
			t:add(pf.dir, d)
			t:append_text(" " .. d)
		end
	end
	local dropped = point:match("/drops$") ~= nil
	for _, line in ipairs(comment_lines()) do
		local reason, location, iface = line:match("^drop: (%S+) at (%S+) %((.*)%)$")
		if not reason then
			reason, location = line:match("^drop: (%S+) at (%S+)$")
		end
		if reason and dropped then
			local dt = t:add(pf.drop, true)
			dt:append_text(": " .. reason .. " at " .. location)
			dt:add(pf.drop_reason, reason)
			dt:add(pf.drop_location, location)
			if iface and iface ~= "" then dt:add(pf.drop_iface, iface) end
			t:append_text(", dropped: " .. reason)
		else
			local v = parse_verdict(line)
			if v then
				add_verdict(t, v)
				t:append_text(", " .. v.probe .. ": " .. v.cause)
			end
		end
	end
end

-- The facts tree: scalars as "key: value", objects and lists as subtrees
-- that say how many items they hold; a list of objects names each item by
-- its first string field.
local function label(v)
	if type(v) ~= "table" or v == json.null then return tostring(v) end
	if v.object then
		for _, k in ipairs(v.keys) do
			if type(v[k]) == "string" then return v[k] end
		end
		return "{...}"
	end
	return "[" .. #v .. "]"
end

local function add_json(tree, name, v, depth)
	if type(v) ~= "table" or v == json.null then
		tree:add(pf.facts, tostring(v)):set_text(name .. ": " .. tostring(v))
		return
	end
	local t = tree:add(pf.facts, name):set_text(v.object and name or (name .. " (" .. #v .. ")"))
	if depth > 12 then return end
	if v.object then
		for _, k in ipairs(v.keys) do add_json(t, k, v[k], depth + 1) end
	else
		for i, item in ipairs(v) do
			if type(item) == "table" and item ~= json.null then
				add_json(t, "[" .. (i - 1) .. "] " .. label(item), item, depth + 1)
			else
				tree:add(pf.facts, tostring(item)):set_text("[" .. (i - 1) .. "] " .. tostring(item))
			end
		end
	end
end

local function facts(tvb, tree, pinfo)
	if tvb:len() < 16 then return end
	local text = tvb:raw(0, tvb:len()):gsub("%z+$", "")
	if text:sub(1, 16) ~= '{"nsdump_facts":' then return end
	local rec, err = json.decode(text)
	local t = tree:add(nsdump, tvb(), "nsdump trace record")
	pinfo.cols.protocol = "nsdump"
	if not rec then
		t:add_expert_info(PI_MALFORMED, PI_WARN, "facts are not JSON: " .. tostring(err))
		return
	end
	t:append_text(" (facts version " .. tostring(rec.nsdump_facts) .. ")")
	local verdicts = rec.verdicts or {}
	local vt = t:add(nsdump, "Verdicts (" .. #verdicts .. ")")
	local failed = 0
	for _, v in ipairs(verdicts) do
		local one = add_verdict(vt, { probe = v.direction .. " " .. v.kind, cause = v.cause, namespace = v.namespace, fix = v.fix }, v.detail)
		if v.family then one:append_text(" (IPv" .. tostring(v.family) .. ")") end
		if not v.ok then failed = failed + 1 end
	end
	pinfo.cols.info = string.format("nsdump trace: %d verdicts, %d failed", #verdicts, failed)
	if rec.facts then add_json(t, "Facts", rec.facts, 0) end
end

function nsdump.dissector(tvb, pinfo, tree)
	local pen = f_pen()
	if pen and pen.value == FACTS_PEN then
		facts(tvb, tree, pinfo)
		return
	end
	packet(tree, pinfo)
end

-- allfields: the frame fields read here (comment, direction) are filled in
-- even when no filter or column asks for them.
register_postdissector(nsdump, true)
