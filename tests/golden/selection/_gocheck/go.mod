module multusctl.local/selection-gocheck

go 1.21
