module multusctl.local/status-gocheck

go 1.21
