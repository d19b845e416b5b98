package render

import (
	"net/url"
	"slices"
	"strconv"

	"github.com/runnerctl/runnerctl/internal/config"
)

// The egress policy allows DNS to kube-dns, the API server (the runner
// starts job pods through it), GitLab on HTTPS and SSH, and registries on
// HTTPS; everything else leaving the namespace is dropped. It selects every
// pod of the namespace, runner and job pods alike.

type k8sNetworkPolicy struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		PodSelector struct{}     `yaml:"podSelector"`
		PolicyTypes []string     `yaml:"policyTypes"`
		Egress      []egressRule `yaml:"egress"`
	} `yaml:"spec"`
}

type egressRule struct {
	To    []peer       `yaml:"to"`
	Ports []policyPort `yaml:"ports"`
}

type peer struct {
	IPBlock           *ipBlock       `yaml:"ipBlock,omitempty"`
	NamespaceSelector *labelSelector `yaml:"namespaceSelector,omitempty"`
	PodSelector       *labelSelector `yaml:"podSelector,omitempty"`
}

type ipBlock struct {
	CIDR string `yaml:"cidr"`
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type policyPort struct {
	Protocol string `yaml:"protocol"`
	Port     int    `yaml:"port"`
}

// kubernetesNetworkPolicy fills templates/networkpolicy.yaml, whose rules
// (DNS) come first.
func kubernetesNetworkPolicy(b *bases, r *config.Runner, name string) k8sNetworkPolicy {
	n := r.NetworkPolicy
	np := b.NetworkPolicy
	np.Metadata = metaOf(np.Metadata, name, r.Namespace, r)
	np.Spec.Egress = slices.Clone(np.Spec.Egress)
	add := func(cidrs []string, ports ...int) {
		if len(cidrs) == 0 {
			return
		}
		rule := egressRule{}
		for _, c := range cidrs {
			rule.To = append(rule.To, peer{IPBlock: &ipBlock{CIDR: c}})
		}
		for _, p := range ports {
			rule.Ports = append(rule.Ports, policyPort{Protocol: "TCP", Port: p})
		}
		np.Spec.Egress = append(np.Spec.Egress, rule)
	}
	add(n.APIServerCIDRs, 443, 6443)
	add(n.GitLabCIDRs, withExtra([]int{22, 443}, n.ExtraPorts)...)
	add(n.RegistryCIDRs, withExtra([]int{443}, n.ExtraPorts)...)
	return np
}

type ciliumNetworkPolicy struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		EndpointSelector struct{}           `yaml:"endpointSelector"`
		Egress           []ciliumEgressRule `yaml:"egress"`
	} `yaml:"spec"`
}

type ciliumEgressRule struct {
	ToEndpoints []labelSelector `yaml:"toEndpoints,omitempty"`
	ToEntities  []string        `yaml:"toEntities,omitempty"`
	ToFQDNs     []fqdnSelector  `yaml:"toFQDNs,omitempty"`
	ToCIDR      []string        `yaml:"toCIDR,omitempty"`
	ToPorts     []ciliumPorts   `yaml:"toPorts,omitempty"`
}

type fqdnSelector struct {
	MatchName    string `yaml:"matchName,omitempty"`
	MatchPattern string `yaml:"matchPattern,omitempty"`
}

type ciliumPorts struct {
	Ports []ciliumPort `yaml:"ports"`
	Rules *struct {
		DNS []fqdnSelector `yaml:"dns"`
	} `yaml:"rules,omitempty"`
}

type ciliumPort struct {
	Port     string `yaml:"port"`
	Protocol string `yaml:"protocol"`
}

// ciliumPolicy fills templates/ciliumnetworkpolicy.yaml, whose rules (DNS
// through Cilium's proxy, the API server) come first.
func ciliumPolicy(cfg *config.Config, b *bases, r *config.Runner, name string) ciliumNetworkPolicy {
	n := r.NetworkPolicy
	np := b.CiliumPolicy
	np.Metadata = metaOf(np.Metadata, name, r.Namespace, r)
	np.Spec.Egress = slices.Clone(np.Spec.Egress)

	ports := func(list ...int) []ciliumPorts {
		var ps []ciliumPort
		for _, p := range list {
			ps = append(ps, ciliumPort{Port: strconv.Itoa(p), Protocol: "TCP"})
		}
		return []ciliumPorts{{Ports: ps}}
	}
	gitlabHost := ""
	if u, err := url.Parse(cfg.GitLab.URL); err == nil {
		gitlabHost = u.Hostname()
	}
	fqdns := []fqdnSelector{{MatchName: gitlabHost}}
	for _, f := range n.FQDNs {
		if len(f) > 2 && f[:2] == "*." {
			fqdns = append(fqdns, fqdnSelector{MatchPattern: f})
		} else if f != gitlabHost {
			fqdns = append(fqdns, fqdnSelector{MatchName: f})
		}
	}
	np.Spec.Egress = append(np.Spec.Egress, ciliumEgressRule{ToFQDNs: fqdns, ToPorts: ports(withExtra([]int{22, 443}, n.ExtraPorts)...)})
	if cidrs := slices.Concat(n.GitLabCIDRs, n.RegistryCIDRs, n.APIServerCIDRs); len(cidrs) > 0 {
		np.Spec.Egress = append(np.Spec.Egress, ciliumEgressRule{ToCIDR: cidrs, ToPorts: ports(withExtra([]int{22, 443, 6443}, n.ExtraPorts)...)})
	}
	return np
}

// withExtra appends the extra ports not already listed, keeping order.
func withExtra(base, extra []int) []int {
	out := slices.Clone(base)
	for _, p := range extra {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
