// Command gocheck checks the selection golden cases (../*.json) against Go's own
// standard library: encoding/json (decoding, syntax and type errors), net (ParseMAC,
// ParseIP, ParseCIDR, net.IP text), strings.TrimSpace, regexp and fmt.Errorf (which
// upstream calls with user text as the format). The parsing rules are written here
// from the specification (ANN-02/03/04/07, CORE-14), independently of the Python
// code. Cases whose error upstream would not produce (it crashes) are skipped.
// Run from this directory: go run . ..
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"

	"multusctl.local/selection-gocheck/types"
)

type goldenCase struct {
	Annotation    string          `json:"annotation"`
	Namespace     string          `json:"namespace"`
	Function      string          `json:"function"`
	CheckGateways bool            `json:"check_gateways"`
	Expected      json.RawMessage `json:"expected"`
	Error         *string         `json:"error"`
}

var errCrash = errors.New("upstream crashes here")

func objectName(item string) (string, string, string, error) {
	var ns, name, ifname string
	slash := strings.Split(item, "/")
	switch len(slash) {
	case 2:
		ns = strings.TrimSpace(slash[0])
		name = slash[1]
	case 1:
		name = slash[0]
	default:
		return "", "", "", fmt.Errorf("parsePodNetworkObjectName: Invalid network object (failed at '/')")
	}
	at := strings.Split(name, "@")
	name = strings.TrimSpace(at[0])
	if len(at) == 2 {
		ifname = strings.TrimSpace(at[1])
	} else if len(at) != 1 {
		return "", "", "", fmt.Errorf("parsePodNetworkObjectName: Invalid network object (failed at '@')")
	}
	label := regexp.MustCompile("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
	for _, part := range []string{ns, name} {
		if part != "" && !label.MatchString(part) {
			//nolint:govet // the user's text becomes the format, as upstream does
			return "", "", "", fmt.Errorf(fmt.Sprintf("parsePodNetworkObjectName: Failed to parse: one or more items did not match comma-delimited format (must consist of lower case alphanumeric characters). Must start and end with an alphanumeric character), mismatch @ '%v'", part))
		}
	}
	if ifname != "" && (len(ifname) > syscall.IFNAMSIZ-1 || strings.ContainsAny(ifname, " \t\n\v\f\r/")) {
		return "", "", "", fmt.Errorf(fmt.Sprintf("parsePodNetworkObjectName: Failed to parse interface name: must be less than 15 chars and not contain '/' or spaces. interface name '%s'", ifname))
	}
	return ns, name, ifname, nil
}

func parse(annotation, defaultNamespace string) ([]*types.NetworkSelectionElement, error) {
	var networks []*types.NetworkSelectionElement
	if annotation == "" {
		return nil, fmt.Errorf("parsePodNetworkAnnotation: pod annotation does not have \"network\" as key")
	}
	if strings.ContainsAny(annotation, "[{\"") {
		if err := json.Unmarshal([]byte(annotation), &networks); err != nil {
			return nil, fmt.Errorf("parsePodNetworkAnnotation: failed to parse pod Network Attachment Selection Annotation JSON format: %v", err)
		}
	} else {
		for _, item := range strings.Split(annotation, ",") {
			ns, name, ifname, err := objectName(strings.TrimSpace(item))
			if err != nil {
				return nil, fmt.Errorf("parsePodNetworkAnnotation: %v", err)
			}
			networks = append(networks, &types.NetworkSelectionElement{Name: name, Namespace: ns, InterfaceRequest: ifname})
		}
	}
	for _, n := range networks {
		if n == nil {
			return nil, errCrash
		}
		if n.Namespace == "" {
			n.Namespace = defaultNamespace
		}
		if n.MacRequest != "" {
			if _, err := net.ParseMAC(n.MacRequest); err != nil {
				return nil, fmt.Errorf("parsePodNetworkAnnotation: failed to mac: %v", err)
			}
		}
		if n.InfinibandGUIDRequest != "" {
			if _, err := net.ParseMAC(n.InfinibandGUIDRequest); err != nil {
				return nil, fmt.Errorf("parsePodNetworkAnnotation: failed to validate infiniband GUID: %v", err)
			}
		}
		for _, ip := range n.IPRequest {
			if strings.Contains(ip, "/") {
				if _, _, err := net.ParseCIDR(ip); err != nil {
					return nil, fmt.Errorf("failed to parse CIDR %q: %v", ip, err)
				}
			} else if net.ParseIP(ip) == nil {
				return nil, fmt.Errorf("failed to parse IP address %q", ip)
			}
		}
		if n.InterfaceRequest == "" {
			n.InterfaceRequest = n.DeprecatedInterfaceRequest
		}
	}
	return networks, nil
}

func checkGateways(networks []*types.NetworkSelectionElement) error {
	v4, v6 := 0, 0
	for _, n := range networks {
		if n.GatewayRequest == nil {
			continue
		}
		for _, gw := range *n.GatewayRequest {
			if gw.To4() != nil {
				v4++
			} else {
				v6++
			}
		}
	}
	if v4 > 1 || v6 > 1 {
		return fmt.Errorf("multus does not support ECMP for default-route")
	}
	return nil
}

// view is the to_json() shape of the Python side.
func view(n *types.NetworkSelectionElement) map[string]interface{} {
	out := map[string]interface{}{"name": n.Name, "namespace": n.Namespace}
	if n.InterfaceRequest != "" {
		out["interface"] = n.InterfaceRequest
	}
	if len(n.IPRequest) > 0 {
		out["ips"] = n.IPRequest
	}
	if n.MacRequest != "" {
		out["mac"] = n.MacRequest
	}
	if n.InfinibandGUIDRequest != "" {
		out["infiniband-guid"] = n.InfinibandGUIDRequest
	}
	if n.PortMappingsRequest != nil {
		pms := []interface{}{}
		for _, p := range n.PortMappingsRequest {
			if p == nil {
				p = &types.PortMapEntry{}
			}
			pms = append(pms, p)
		}
		out["portMappings"] = pms
	}
	if n.BandwidthRequest != nil {
		out["bandwidth"] = n.BandwidthRequest
	}
	if n.DeviceID != "" {
		out["deviceID"] = n.DeviceID
	}
	if n.CNIArgs != nil {
		out["cni-args"] = *n.CNIArgs
	}
	if n.GatewayRequest != nil {
		gws := []string{}
		for _, gw := range *n.GatewayRequest {
			if gw == nil {
				gws = append(gws, "")
			} else {
				gws = append(gws, gw.String())
			}
		}
		out["default-route"] = gws
	}
	return out
}

func run(c goldenCase) ([]map[string]interface{}, error) {
	var networks []*types.NetworkSelectionElement
	var err error
	if c.Function == "default_network" {
		networks, err = parse(c.Annotation, c.Namespace)
		if err != nil {
			if err == errCrash {
				return nil, err
			}
			return nil, fmt.Errorf("tryLoadK8sPodDefaultNetwork: failed to parse CRD object: %v", err)
		}
		if len(networks) > 1 {
			return nil, fmt.Errorf("tryLoadK8sPodDefaultNetwork: more than one default network is specified: %s", c.Annotation)
		}
		if len(networks) == 0 {
			return nil, errCrash
		}
	} else {
		if strings.TrimSpace(c.Annotation) == "" {
			return []map[string]interface{}{}, nil // multusctl: nothing selected
		}
		networks, err = parse(c.Annotation, c.Namespace)
		if err != nil {
			return nil, err
		}
	}
	if c.CheckGateways {
		if err := checkGateways(networks); err != nil {
			return nil, err
		}
	}
	out := []map[string]interface{}{}
	for _, n := range networks {
		out = append(out, view(n))
	}
	return out, nil
}

func normalise(raw []byte) (interface{}, error) {
	var v interface{}
	err := json.Unmarshal(raw, &v)
	return v, err
}

func main() {
	dir := os.Args[1]
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	bad, skipped := 0, 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			panic(err)
		}
		var c goldenCase
		if err := json.Unmarshal(raw, &c); err != nil {
			panic(fmt.Sprintf("%s: %v", file, err))
		}
		got, err := run(c)
		name := filepath.Base(file)
		if err == errCrash {
			skipped++
			fmt.Printf("skip %s (upstream crashes)\n", name)
			continue
		}
		if err != nil {
			if c.Error == nil || *c.Error != err.Error() {
				bad++
				want := "<no error>"
				if c.Error != nil {
					want = *c.Error
				}
				fmt.Printf("FAIL %s\n  go:     %s\n  golden: %s\n", name, err.Error(), want)
			}
			continue
		}
		if c.Error != nil {
			bad++
			fmt.Printf("FAIL %s\n  go:     no error\n  golden: %s\n", name, *c.Error)
			continue
		}
		gotJSON, _ := json.Marshal(got)
		a, _ := normalise(gotJSON)
		b, _ := normalise(c.Expected)
		if !reflect.DeepEqual(a, b) {
			bad++
			fmt.Printf("FAIL %s\n  go:     %s\n  golden: %s\n", name, gotJSON, c.Expected)
		}
	}
	fmt.Printf("%d cases, %d mismatches, %d skipped\n", len(files), bad, skipped)
	if bad > 0 {
		os.Exit(1)
	}
}
