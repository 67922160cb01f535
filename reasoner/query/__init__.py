"""The questions asked of an analysed cluster: endpoint resolution (endpoints.py), one flow's verdict and the
rules that decided it (can.py, with the host endpoints' hooks in hosts.py), the connectivity map (map.py, with
the outside addresses in addresses.py), Services and workloads (services.py), and exposure (exposure.py).
Results are values; rendering them is reasoner/report/'s."""
