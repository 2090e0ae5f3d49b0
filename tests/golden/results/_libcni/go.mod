module multusctl.local/libcni-golden

go 1.21

require github.com/containernetworking/cni v1.3.0
