package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nsdump/nsdump/contrib/wireshark"
)

// runPlugin prints the Wireshark plugin, the folder it belongs in, or
// installs it there.
func runPlugin(_ context.Context, e env, args []string) error {
	fs := newFlags(e, "wireshark-plugin")
	install := fs.Bool("install", false, "copy the plugin to Wireshark's personal Lua plugins folder and print its path")
	path := fs.Bool("path", false, "print where --install puts the plugin")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("wireshark-plugin takes no arguments, got %q", fs.Arg(0))
	}
	if *install && *path {
		return errors.New("--install and --path: give one")
	}
	if !*install && !*path {
		_, err := e.stdout.Write(wireshark.Plugin)
		return err
	}
	dir, err := personalPlugins()
	if err != nil {
		return err
	}
	file := filepath.Join(dir, wireshark.FileName)
	if *install {
		if err := installPlugin(dir, file); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintln(e.stdout, file)
	return err
}

// personalPlugins is Wireshark's personal Lua plugins folder on Linux
// (tshark -G folders: "Personal Lua Plugins").
func personalPlugins() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the personal plugins folder: %w", err)
	}
	return filepath.Join(home, ".local", "lib", "wireshark", "plugins"), nil
}

// installPlugin writes the plugin beside its final name and renames it
// into place: Wireshark starting meanwhile reads the old file or the new,
// never half of one.
func installPlugin(dir, file string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("install plugin: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".nsdump-*.lua.tmp")
	if err != nil {
		return fmt.Errorf("install plugin: %w", err)
	}
	_, err = tmp.Write(wireshark.Plugin)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("install plugin %s: %w", file, err)
	}
	return nil
}
