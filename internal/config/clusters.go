package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ClusterPlaceholder in a backend layout (or a runner's tokenSecret.key)
// is replaced by the cluster's name, for runners with clusters.
const ClusterPlaceholder = "{cluster}"

// MaxApplicationNameLen bounds the name of every Application ArgoCD holds
// for runnerctl: ArgoCD's default tracking writes it into the label
// app.kubernetes.io/instance of every object it deploys, and a label value
// has at most 63 characters.
const MaxApplicationNameLen = 63

// ID names instance r for people and for runnerctl's own records (locks,
// recovery files, status): the runner's name, and for a runner deployed to
// clusters, "NAME@CLUSTER".
func (r *Runner) ID() string { return InstanceID(r.Name, r.Cluster) }

// InstanceID names runner name's instance in cluster: "NAME@CLUSTER", or
// the runner's name when cluster is empty. A runner name is a DNS label,
// so SplitInstanceID takes it apart unambiguously.
func InstanceID(name, cluster string) string {
	if cluster == "" {
		return name
	}
	return name + "@" + cluster
}

// SplitInstanceID takes an instance ID apart; hasCluster is false for a
// bare runner name.
func SplitInstanceID(id string) (name, cluster string, hasCluster bool) {
	return strings.Cut(id, "@")
}

// Path is the place of instance r in runnerctl.yaml: runners[i], or
// runners[i].clusters[j] for a runner's cluster. Its runnerID is recorded
// there.
func (r *Runner) Path() string {
	if r.Cluster == "" {
		return fmt.Sprintf("runners[%d]", r.Index)
	}
	return fmt.Sprintf("runners[%d].clusters[%d]", r.Index, r.ClusterIndex)
}

// Instances lists what is deployed and registered in GitLab, one entry per
// GitLab runner: each runner without clusters itself (a pointer into
// c.Runners), and for a runner with clusters one copy per cluster, with
// that cluster's overrides applied and its runnerID. The copies share no
// map, slice or pointer that an override changes with the definition.
// The order is the file's.
func (c *Config) Instances() []*Runner {
	var out []*Runner
	var clusters map[string]*Cluster // by name, once a runner has clusters
	for i := range c.Runners {
		r := &c.Runners[i]
		// Written once (config.Parse's validation calls this first): a
		// later call writes nothing, so commands may call it from several
		// goroutines.
		if r.Index != i || r.ClusterIndex != -1 {
			r.Index, r.ClusterIndex = i, -1
		}
		if len(r.Clusters) == 0 {
			out = append(out, r)
			continue
		}
		if clusters == nil {
			clusters = make(map[string]*Cluster, len(c.Clusters))
			for k := range c.Clusters {
				clusters[c.Clusters[k].Name] = &c.Clusters[k]
			}
		}
		for j := range r.Clusters {
			out = append(out, instance(r, j, clusters[r.Clusters[j].Name]))
		}
	}
	return out
}

// Instance finds the instance named id (Runner.ID), nil when there is none.
func (c *Config) Instance(id string) *Runner {
	for _, r := range c.Instances() {
		if r.ID() == id {
			return r
		}
	}
	return nil
}

// KubeContextOf is the kubeconfig context of instance r's cluster: the
// cluster's kubeContext, else its name; empty for a runner without
// clusters (the current context).
func (c *Config) KubeContextOf(r *Runner) string {
	if r.Cluster == "" {
		return ""
	}
	if cl := c.ClusterByName(r.Cluster); cl != nil && cl.KubeContext != "" {
		return cl.KubeContext
	}
	return r.Cluster
}

// ClusterByName finds clusters[] entry name, nil when there is none.
func (c *Config) ClusterByName(name string) *Cluster {
	i := slices.IndexFunc(c.Clusters, func(cl Cluster) bool { return cl.Name == name })
	if i < 0 {
		return nil
	}
	return &c.Clusters[i]
}

// instance is def's instance in its j-th cluster, cl (nil for a name
// clusters[] lacks, which validation reports).
func instance(def *Runner, j int, cl *Cluster) *Runner {
	rc := def.Clusters[j]
	r := *def
	r.Clusters = nil
	r.Cluster, r.Index, r.ClusterIndex = rc.Name, def.Index, j
	r.RunnerID = rc.RunnerID
	if cl != nil {
		r.Destination = cl.Destination
	}
	if rc.Concurrent != 0 {
		r.Concurrent = rc.Concurrent
	}
	if rc.Resources != nil {
		res := *rc.Resources
		r.Resources = &res
	}
	if def.Registration != nil {
		reg := *def.Registration
		if rc.Tags != nil {
			reg.Tags = slices.Clone(rc.Tags)
			if reg.untaggedByDefault {
				untagged := len(reg.Tags) == 0
				reg.RunUntagged = &untagged
			}
		}
		// The definition's description names the runner; each cluster's
		// runner is told apart in GitLab's list by its cluster. A
		// description the user wrote is kept as written, with the cluster
		// added, for the same reason.
		reg.Description = reg.Description + " (" + rc.Name + ")"
		r.Registration = &reg
	}
	r.NodeSelector = maps.Clone(rc.NodeSelector)
	r.ClusterPatches = rc.Patches
	return &r
}

// expandLayout fills the placeholders of a backend layout for instance r.
// A layout without ClusterPlaceholder still gives each cluster's runner its
// own token: RunnerPlaceholder then stands for NAME-CLUSTER, as in the
// Application's name.
func expandLayout(s string, r *Runner) string {
	name := r.Name
	if r.Cluster != "" && !strings.Contains(s, ClusterPlaceholder) {
		name += "-" + r.Cluster
	}
	s = strings.ReplaceAll(s, RunnerPlaceholder, name)
	return strings.ReplaceAll(s, ClusterPlaceholder, r.Cluster)
}

// validateClusters checks clusters[], argocd.applicationSet and every
// runner's clusters list.
func (c *Config) validateClusters(v *validator, instances []*Runner) {
	as := c.ArgoCD.ApplicationSet
	v.oneOf("argocd.applicationSet.generator", as.Generator, GeneratorList, GeneratorClusters)
	fleet := slices.ContainsFunc(c.Runners, func(r Runner) bool { return len(r.Clusters) > 0 })
	switch {
	case as.Generator == GeneratorClusters && fleet && len(as.Selector) == 0:
		v.add("argocd.applicationSet.selector", "is required with generator clusters: without labels, every cluster ArgoCD knows would get the runners")
	case as.Generator != GeneratorClusters && len(as.Selector) > 0:
		v.add("argocd.applicationSet.selector", "is used only with generator clusters; remove it or set argocd.applicationSet.generator: clusters")
	}
	for _, k := range slices.Sorted(maps.Keys(as.Selector)) {
		v.match("argocd.applicationSet.selector."+k, k, labelKeyRE, "a label key such as env or example.com/tier")
		v.match("argocd.applicationSet.selector."+k, as.Selector[k], labelValueRE, "a label value (at most 63 letters, digits, '-', '_' or '.')")
	}
	if c.GitOps.Engine == EngineFlux && len(c.Clusters) > 0 {
		// Like argocd.*, a setting that would silently do nothing.
		v.add("clusters", "is used only with gitops.engine argocd (one ApplicationSet per runner); with Flux, keep one runnerctl.yaml per cluster directory (see docs/flux.md)")
	}
	if len(c.Clusters) > MaxClusters {
		v.add("clusters", "has %d entries; runnerctl accepts at most %d", len(c.Clusters), MaxClusters)
	}
	names := map[string]int{}
	dests := map[Destination]int{}
	for i, cl := range c.Clusters {
		p := fmt.Sprintf("clusters[%d]", i)
		v.dnsLabel(p+".name", cl.Name, 63)
		if cl.KubeContext != "" {
			v.text(p+".kubeContext", cl.KubeContext)
		}
		if j, dup := names[cl.Name]; dup {
			v.add(p+".name", "%q is already used by clusters[%d]; names must be unique", cl.Name, j)
		}
		names[cl.Name] = i
		d := cl.Destination
		switch {
		case as.Generator == GeneratorClusters && d != (Destination{}):
			v.add(p+".destination", "is set by ArgoCD's cluster generator (the cluster's server); remove it, or use generator list")
		case as.Generator == GeneratorClusters:
		case d.Server != "" && d.Name != "":
			v.add(p+".destination", "set server or name, not both")
		case d.Name != "":
			v.argoClusterName(p+".destination.name", d.Name)
		case d.Server != "":
			v.httpURL(p+".destination.server", d.Server, "https", "http")
		default:
			v.add(p+".destination", "is required with generator list: set server (the API server URL) or name (the cluster's name in ArgoCD)")
		}
		if d != (Destination{}) {
			if j, dup := dests[d]; dup {
				v.add(p+".destination", "is already the destination of clusters[%d]; two entries for one cluster would deploy each runner there twice, with one release name", j)
			}
			dests[d] = i
		}
	}
	// A runner's cluster and a runner named NAME-CLUSTER would have one
	// Application name (and one set of file names).
	apps := make(map[string]*Runner, len(instances))
	for _, r := range instances {
		name := ReleasePrefix + r.Name
		if r.Cluster != "" {
			name += "-" + r.Cluster
		}
		if prev, dup := apps[name]; dup {
			v.add(r.Path()+".name", "gives the Application name %s, which %s has too; rename one of them", name, prev.Path())
		}
		apps[name] = r
	}
	for i := range c.Runners {
		r := &c.Runners[i]
		p := fmt.Sprintf("runners[%d]", i)
		if len(r.Clusters) == 0 {
			continue
		}
		if c.GitOps.Engine == EngineFlux {
			v.add(p+".clusters", "needs gitops.engine argocd: Flux has no ApplicationSet; with Flux, keep one runnerctl.yaml per cluster directory (see docs/flux.md)")
		}
		if r.RunnerID != 0 {
			v.add(p+".runnerID", "is recorded per cluster (clusters[].runnerID) for a runner with clusters; move it to the cluster whose runner it is")
		}
		if r.TokenSecret != nil && !strings.Contains(r.TokenSecret.Key, ClusterPlaceholder) {
			v.add(p+".tokenSecret.key", "must contain %s: each cluster's runner has its own token", ClusterPlaceholder)
		}
		seen := map[string]int{}
		for j, rc := range r.Clusters {
			// Named only for a problem: a fleet's thousands of entries
			// are loaded on every render.
			cp := lazyPath(func() string { return fmt.Sprintf("%s.clusters[%d]", p, j) })
			if _, ok := names[rc.Name]; !ok {
				v.add(cp.at(".name"), "%q is not in clusters[]; add it there with its destination", rc.Name)
			}
			if k, dup := seen[rc.Name]; dup {
				v.add(cp.at(".name"), "%q is already listed as %s.clusters[%d]", rc.Name, p, k)
			}
			seen[rc.Name] = j
			if n := len(ReleasePrefix) + len(r.Name) + 1 + len(rc.Name); n > MaxApplicationNameLen {
				v.add(cp.at(".name"), "makes the Application name %s%s-%s %d characters long; ArgoCD puts it in a label of at most %d: shorten the runner or cluster name",
					ReleasePrefix, r.Name, rc.Name, n, MaxApplicationNameLen)
			}
			if rc.RunnerID < 0 {
				v.add(cp.at(".runnerID"), "must not be negative")
			}
			if rc.Concurrent < 0 {
				v.add(cp.at(".concurrent"), "must be 1 or more")
			}
			if rc.Resources != nil {
				validateResources(v, cp.at(".resources"), rc.Resources)
			}
			if rc.Tags != nil {
				validateTags(v, cp.at(".tags"), rc.Tags)
			}
			for _, k := range slices.Sorted(maps.Keys(rc.NodeSelector)) {
				v.match(cp.at(".nodeSelector.")+k, k, labelKeyRE, "a node label key such as kubernetes.io/arch")
				v.match(cp.at(".nodeSelector.")+k, rc.NodeSelector[k], labelValueRE, "a label value (at most 63 letters, digits, '-', '_' or '.')")
			}
			if rc.Patches != nil && rc.Patches.Application != nil {
				v.add(cp.at(".patches.application"), "the ApplicationSet's template is one for all clusters; patch it in runners[%d].patches.application", i)
			}
			if rc.Patches != nil {
				rc.Patches.validate(v, cp.at(".patches"))
			}
		}
	}
}

// lazyPath is a field path built only when a problem is reported.
type lazyPath func() string

// at is the path followed by field (".name", ".tags").
func (p lazyPath) at(field string) string { return p() + field }

// MaxClusters bounds clusters[].
const MaxClusters = 1000
