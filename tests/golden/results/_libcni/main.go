// Command libcni-golden regenerates the expected outputs of the result conversion
// golden cases from the real libcni (github.com/containernetworking/cni v1.3.0).
//
// For every case directory next to this one holding input.json and to.txt it parses
// the input the way libcni's invoke package does, converts it with GetAsVersion and
// writes what Print() emits to expected.json. When libcni refuses, it writes the Go
// error text to libcni-error.txt instead. Run from this directory:
//
//	go run . ..
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/pkg/types/create"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// resultVersion mirrors invoke.fixupResultVersion without a network config:
// a missing or empty cniVersion means the legacy 0.1.0.
func resultVersion(raw []byte) (string, error) {
	var m map[string]interface{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", err
	}
	if v, ok := m["cniVersion"].(string); ok && v != "" {
		return v, nil
	}
	return "0.1.0", nil
}

func runCase(dir string) error {
	input, err := os.ReadFile(filepath.Join(dir, "input.json"))
	if err != nil {
		return err
	}
	to, err := os.ReadFile(filepath.Join(dir, "to.txt"))
	if err != nil {
		return err
	}
	for _, name := range []string{"expected.json", "libcni-error.txt"} {
		_ = os.Remove(filepath.Join(dir, name))
	}
	out, convErr := convert(input, strings.TrimSpace(string(to)))
	if convErr != nil {
		return os.WriteFile(filepath.Join(dir, "libcni-error.txt"), []byte(convErr.Error()+"\n"), 0o644)
	}
	return os.WriteFile(filepath.Join(dir, "expected.json"), out, 0o644)
}

func convert(input []byte, to string) ([]byte, error) {
	version, err := resultVersion(input)
	if err != nil {
		return nil, err
	}
	res, err := create.Create(version, input)
	if err != nil {
		return nil, err
	}
	conv, err := res.GetAsVersion(to)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := conv.PrintTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// emptyResult prints the result Multus returns when the pod is gone (CORE-07).
func emptyResult() {
	r := &types100.Result{
		CNIVersion: "1.0.0",
		Interfaces: []*types100.Interface{{Name: "eth0", Sandbox: "/var/run/netns/x"}},
		IPs: []*types100.IPConfig{{
			Address: net.IPNet{IP: net.ParseIP("0.0.0.0"), Mask: net.CIDRMask(0, 32)},
			Gateway: net.ParseIP("0.0.0.0"),
		}},
	}
	_ = r.PrintTo(os.Stdout)
	fmt.Println()
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "empty" {
		emptyResult()
		return
	}
	root := ".."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "input.json")); err != nil {
			continue
		}
		if err := runCase(dir); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", dir, err)
			os.Exit(1)
		}
	}
}
