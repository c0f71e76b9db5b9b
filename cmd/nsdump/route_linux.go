package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nsdump/nsdump/topology"
)

func runRoute(_ context.Context, e env, args []string) error {
	fs := newFlags(e, "route")
	from := fs.String("from", "", "source address, as ip route get ... from")
	iif := fs.String("iif", "", "input interface, as ip route get ... iif (a packet arriving there)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("route needs a namespace and a destination: nsdump route NS DST")
	}
	ns := fs.Arg(0)
	if err := topology.ValidateTarget(ns); err != nil {
		return err
	}
	q := topology.RouteQuery{Iif: *iif}
	var err error
	if q.Dst, err = topology.ParseAddr(fs.Arg(1)); err != nil {
		return err
	}
	if *from != "" {
		if q.From, err = topology.ParseAddr(*from); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	if q.Iif != "" {
		if err := topology.ValidateInterface(q.Iif); err != nil {
			return fmt.Errorf("--iif: %w", err)
		}
	}
	if err := topology.CheckPrivileges(); err != nil {
		return err
	}
	ts := topology.NewTargets()
	held, release, err := holdTargets(ts, []string{ns})
	if err != nil {
		return err
	}
	defer release()
	ns = held[0].Name
	res, err := ts.RouteGet(ns, q)
	var rerr *topology.RouteError
	if errors.As(err, &rerr) {
		if *asJSON {
			json.NewEncoder(e.stdout).Encode(map[string]any{"namespace": ns, "dst": q.Dst.String(), "error": rerr.Error()})
		}
		// The kernel's words alone, as ip route get prints them.
		fmt.Fprintln(e.stderr, rerr.Error())
		return shown{failure{rerr}}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(res)
	}
	fmt.Fprintln(e.stdout, res.Line)
	return nil
}
