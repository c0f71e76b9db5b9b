// Package wireshark holds nsdump's Wireshark plugin, nsdump.lua, so that
// the nsdump binary can print or install the very file this directory
// keeps (`nsdump wireshark-plugin`).
package wireshark

import _ "embed"

// Plugin is nsdump.lua: a Lua post-dissector adding nsdump.* fields.
//
//go:embed nsdump.lua
var Plugin []byte

// FileName is the plugin's name in a plugins folder.
const FileName = "nsdump.lua"
