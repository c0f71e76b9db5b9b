#!/usr/bin/env bash
# The screenshots of docs/wireshark.md, made again: builds nsdump, builds a
# two-namespace lab with routes (NS_PREFIX-a, NS_PREFIX-b) in which B drops
# echo requests with an nftables rule, writes `nsdump trace -w` of it, tears
# the lab down, and opens the file in Wireshark (Qt) under Xvfb with the
# plugin installed by `nsdump wireshark-plugin --install` in a temporary HOME,
# three times:
#   wireshark-journey.png   -Y 'frame.packet_id == N': one dropped request at
#                           every capture point (N: the first NETFILTER_DROP's id)
#   wireshark-drop.png      -Y 'nsdump.drop.reason == "NETFILTER_DROP"', the
#                           kernel's drop record selected, its nsdump tree expanded
#   wireshark-verdicts.png  -Y 'frame.cb_pen == 32473': the facts record, its
#                           verdicts and facts one level open, the failed verdict open
# The trees are opened with keys sent by xdotool; every step waits until the
# screen stops changing. Screens are 1280x800 PNG.
#
# Usage: scripts/wireshark-shots.sh [OUTDIR]   (default docs/images)
# Needs root (namespaces, nft in them) and, installed by you beforehand:
#   go ip nft tshark Xvfb wireshark xdotool import compare
#   (Debian: apt-get install golang iproute2 nftables tshark wireshark-qt xvfb xdotool imagemagick)
# It installs nothing and touches nothing of the host's network: it refuses to
# run when NS_PREFIX-a or NS_PREFIX-b already exist. NS_PREFIX defaults to wsshot.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/images}
prefix=${NS_PREFIX:-wsshot}
ns_a=$prefix-a ns_b=$prefix-b

missing=()
for c in go ip nft tshark Xvfb wireshark xdotool import compare; do
	command -v "$c" >/dev/null || missing+=("$c")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "wireshark-shots: missing ${missing[*]}; on Debian: apt-get install golang iproute2 nftables tshark wireshark-qt xvfb xdotool imagemagick" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "wireshark-shots: needs root (it builds network namespaces)" >&2
	exit 2
fi
for ns in "$ns_a" "$ns_b"; do
	if ip netns list | awk '{print $1}' | grep -qxF "$ns"; then
		echo "wireshark-shots: namespace $ns exists; set NS_PREFIX to a name of your own" >&2
		exit 2
	fi
done
mkdir -p "$out"

tmp=$(mktemp -d)
nsdump=$tmp/nsdump
naming=(--ns0 "$ns_a" --ns1 "$ns_b" --veth0 "$prefix"0 --veth1 "$prefix"1)
xvfb_pid= ws_pid= lab=
cleanup() {
	[ -n "$ws_pid" ] && kill "$ws_pid" 2>/dev/null || true
	[ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
	[ -n "$lab" ] && "$nsdump" teardown "${naming[@]}" >/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$nsdump" ./cmd/nsdump

# The failing path: routes both ways, and B's input chain drops echo requests.
lab=1
"$nsdump" setup --routes "${naming[@]}"
ip netns exec "$ns_b" nft 'add table inet filter; add chain inet filter input { type filter hook input priority 0; policy accept; }; add rule inet filter input icmp type echo-request drop'
trace=$tmp/trace.pcapng
"$nsdump" trace "$ns_a" "$ns_b" --count 2 -w "$trace" || true # it fails, as it should
"$nsdump" teardown "${naming[@]}"
lab=

# Wireshark's own settings, in a HOME of its own: the window fills the screen,
# no bytes pane, and columns for the capture point, direction and packet id.
export HOME=$tmp/home XDG_CONFIG_HOME=$tmp/home/.config XDG_RUNTIME_DIR=$tmp/run
mkdir -p "$XDG_CONFIG_HOME/wireshark" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
"$nsdump" wireshark-plugin --install >/dev/null
cat >"$XDG_CONFIG_HOME/wireshark/preferences" <<'EOF'
gui.column.format: "No.", "%m", "Time", "%t", "Capture point", "%Cus:nsdump.point:0:R", "Dir", "%Cus:nsdump.dir:0:R", "Packet id", "%Cus:frame.packet_id:0:R", "Source", "%s", "Destination", "%d", "Protocol", "%p", "Length", "%L", "Info", "%i"
gui.update.enabled: FALSE
EOF
cat >"$XDG_CONFIG_HOME/wireshark/recent_common" <<'EOF'
gui.geometry_main_x: 0
gui.geometry_main_y: 0
gui.geometry_main_width: 1280
gui.geometry_main_height: 800
gui.geometry_main_maximized: FALSE
privs.warn_if_elevated: FALSE
EOF
recent() { # $1: height of the packet list, in pixels
	cat >"$XDG_CONFIG_HOME/wireshark/recent" <<EOF
gui.byte_view_show: FALSE
gui.packet_diagram_show: FALSE
gui.geometry_main_upper_pane: $1
column.width:
	%m, 50,
	%t, 110,
	"%Cus:nsdump.point", 130,
	"%Cus:nsdump.dir", 40,
	"%Cus:frame.packet_id", 65,
	%s, 90,
	%d, 90,
	%p, 70,
	%L, 60,
	%i, 400
EOF
}

# The first echo request B's firewall dropped: its id, and the frame of the drop.
plugin=contrib/wireshark/nsdump.lua
read -r drop_frame packet_id < <(tshark -X lua_script:$plugin -r "$trace" -Y 'nsdump.drop.reason == "NETFILTER_DROP"' -T fields -e frame.number -e frame.packet_id 2>/dev/null | head -1)
first_frame=$(tshark -r "$trace" -Y "frame.packet_id == $packet_id" -T fields -e frame.number 2>/dev/null | head -1)
facts_frame=$(tshark -r "$trace" -Y 'frame.cb_pen == 32473' -T fields -e frame.number 2>/dev/null | head -1)
if [ -z "$drop_frame" ] || [ -z "$first_frame" ] || [ -z "$facts_frame" ]; then
	echo "wireshark-shots: the trace has no NETFILTER_DROP or no facts record" >&2
	exit 1
fi
echo "packet id $packet_id: first seen in frame $first_frame, dropped in frame $drop_frame; facts in frame $facts_frame"

# Xvfb picks a free display and says which.
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$tmp/display" 2>"$tmp/xvfb.log" &
xvfb_pid=$!
for _ in $(seq 100); do
	[ -s "$tmp/display" ] && break
	sleep 0.1
done
if [ ! -s "$tmp/display" ]; then
	echo "wireshark-shots: Xvfb did not start: $(cat "$tmp/xvfb.log")" >&2
	exit 1
fi
export DISPLAY=:$(cat "$tmp/display")

# settle waits until two screen grabs 0.5 s apart are the same (at most 30 s).
settle() {
	import -window root "$tmp/a.png"
	for _ in $(seq 60); do
		sleep 0.5
		import -window root "$tmp/b.png"
		if [ "$(compare -metric AE "$tmp/a.png" "$tmp/b.png" null: 2>&1)" = 0 ]; then
			return
		fi
		mv "$tmp/b.png" "$tmp/a.png"
	done
	echo "wireshark-shots: the screen did not settle" >&2
	exit 1
}

# shot NAME FILTER FRAME LISTHEIGHT KEYS...: opens the trace filtered, on FRAME,
# waits for its window (titled with the file's name once the file is read),
# clicks the empty part of the packet details, sends the keys, grabs the screen.
shot() {
	local name=$1 filter=$2 frame=$3 height=$4
	shift 4
	recent "$height"
	wireshark -r "$trace" -Y "$filter" -g "$frame" >"$tmp/wireshark.log" 2>&1 &
	ws_pid=$!
	local win
	if ! win=$(timeout 60 xdotool search --sync --name 'trace\.pcapng' | head -1) || [ -z "$win" ]; then
		echo "wireshark-shots: no Wireshark window with the file in 60 s: $(cat "$tmp/wireshark.log")" >&2
		exit 1
	fi
	settle
	xdotool mousemove --window "$win" 640 740 click 1
	for k in "$@"; do
		xdotool key "$k"
		sleep 0.2
	done
	settle
	import -window root -strip "$out/$name"
	kill "$ws_pid"
	wait "$ws_pid" 2>/dev/null || true
	ws_pid=
	echo "$out/$name: $(identify -format '%wx%h' "$out/$name"), $(stat -c %s "$out/$name") bytes"
}

# The details pane: Ctrl+Left closes every tree, End selects the last top-level
# item (the plugin's, a post-dissector's), Shift+Right opens all beneath it.
shot wireshark-journey.png "frame.packet_id == $packet_id" "$first_frame" 160 ctrl+Left Home End shift+Right
shot wireshark-drop.png 'nsdump.drop.reason == "NETFILTER_DROP"' "$drop_frame" 160 ctrl+Left Home End shift+Right Down Down Down Down Down Down Down
# The facts record: open it and its Facts one level (End again is Facts, its
# last item), then Verdicts (just above Facts), then the first verdict (the
# failed one) whole, and select its Cause.
shot wireshark-verdicts.png 'frame.cb_pen == 32473' "$facts_frame" 80 ctrl+Left Home End Right End Right Up Right Down shift+Right Down Down
wireshark --version | head -1
