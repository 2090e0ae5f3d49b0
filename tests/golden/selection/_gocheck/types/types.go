// Package types declares the shape upstream Multus decodes the networks annotation
// into (its NetworkSelectionElement), so that Go's encoding/json produces the same
// error texts (they name the package and the types).
package types

import "net"

type PortMapEntry struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol,omitempty"`
	HostIP        string `json:"hostIP,omitempty"`
}

type BandwidthEntry struct {
	IngressRate  int `json:"ingressRate"`
	IngressBurst int `json:"ingressBurst"`
	EgressRate   int `json:"egressRate"`
	EgressBurst  int `json:"egressBurst"`
}

type NetworkSelectionElement struct {
	Name                       string                  `json:"name"`
	Namespace                  string                  `json:"namespace,omitempty"`
	IPRequest                  []string                `json:"ips,omitempty"`
	MacRequest                 string                  `json:"mac,omitempty"`
	InfinibandGUIDRequest      string                  `json:"infiniband-guid,omitempty"`
	InterfaceRequest           string                  `json:"interface,omitempty"`
	DeprecatedInterfaceRequest string                  `json:"interfaceRequest,omitempty"`
	PortMappingsRequest        []*PortMapEntry         `json:"portMappings,omitempty"`
	BandwidthRequest           *BandwidthEntry         `json:"bandwidth,omitempty"`
	DeviceID                   string                  `json:"deviceID,omitempty"`
	CNIArgs                    *map[string]interface{} `json:"cni-args"`
	GatewayRequest             *[]net.IP               `json:"default-route,omitempty"`
}
