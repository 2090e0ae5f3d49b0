// Command gocheck checks that every tests/golden/status/<case>/expected.txt is exactly
// what Go writes for those entries: each expected entry is decoded into a struct with
// nad-client's NetworkStatus field layout (key order, omitempty, the DNS struct that is
// never omitted, the DeviceInfo pointer), re-encoded with json.MarshalIndent(v, "",
// "    ") and the entries joined with "," inside "[...]", as upstream's
// SetNetworkStatus does. It checks the byte format only, not which entries the
// delegate results produce. Run from this directory: go run . ..
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

type dns struct {
	Nameservers []string `json:"nameservers,omitempty"`
	Domain      string   `json:"domain,omitempty"`
	Search      []string `json:"search,omitempty"`
	Options     []string `json:"options,omitempty"`
}

type pciDevice struct {
	PciAddress        string `json:"pci-address,omitempty"`
	Vhostnet          string `json:"vhost-net,omitempty"`
	RdmaDevice        string `json:"rdma-device,omitempty"`
	PfPciAddress      string `json:"pf-pci-address,omitempty"`
	RepresentorDevice string `json:"representor-device,omitempty"`
}

type vdpaDevice struct {
	ParentDevice      string `json:"parent-device,omitempty"`
	Driver            string `json:"driver,omitempty"`
	Path              string `json:"path,omitempty"`
	PciAddress        string `json:"pci-address,omitempty"`
	PfPciAddress      string `json:"pf-pci-address,omitempty"`
	RepresentorDevice string `json:"representor-device,omitempty"`
}

type vhostDevice struct {
	Mode string `json:"mode,omitempty"`
	Path string `json:"path,omitempty"`
}

type memifDevice struct {
	Role string `json:"role,omitempty"`
	Path string `json:"path,omitempty"`
	Mode string `json:"mode,omitempty"`
}

type deviceInfo struct {
	Type      string       `json:"type,omitempty"`
	Version   string       `json:"version,omitempty"`
	Pci       *pciDevice   `json:"pci,omitempty"`
	Vdpa      *vdpaDevice  `json:"vdpa,omitempty"`
	VhostUser *vhostDevice `json:"vhost-user,omitempty"`
	Memif     *memifDevice `json:"memif,omitempty"`
}

type networkStatus struct {
	Name       string      `json:"name"`
	Interface  string      `json:"interface,omitempty"`
	IPs        []string    `json:"ips,omitempty"`
	Mac        string      `json:"mac,omitempty"`
	Mtu        int         `json:"mtu,omitempty"`
	Default    bool        `json:"default,omitempty"`
	DNS        dns         `json:"dns,omitempty"`
	DeviceInfo *deviceInfo `json:"device-info,omitempty"`
	Gateway    []string    `json:"gateway,omitempty"`
}

func main() {
	files, _ := filepath.Glob(filepath.Join(os.Args[1], "*", "expected.txt"))
	bad := 0
	for _, file := range files {
		want, err := os.ReadFile(file)
		if err != nil {
			panic(err)
		}
		var entries []networkStatus
		if err := json.Unmarshal(want, &entries); err != nil {
			panic(fmt.Sprintf("%s: %v", file, err))
		}
		var parts []string
		for _, e := range entries {
			data, err := json.MarshalIndent(e, "", "    ")
			if err != nil {
				panic(err)
			}
			parts = append(parts, string(data))
		}
		got := fmt.Sprintf("[%s]", strings.Join(parts, ","))
		if got != string(want) {
			bad++
			fmt.Printf("FAIL %s\n--- go:\n%s\n--- golden:\n%s\n", file, got, want)
		}
	}
	fmt.Printf("%d cases, %d mismatches\n", len(files), bad)
	if bad > 0 {
		os.Exit(1)
	}
}
