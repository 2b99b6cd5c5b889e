package kube

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/birdflock/runner/pkg/registry"
	"github.com/birdflock/runner/pkg/run"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The labels every leg pod carries. Sweep selects on LabelManagedBy and
// LabelInstance; the API and the logs name pods by name.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "runner"
	LabelInstance  = "runner.birdflock.io/instance" // the controller that made the pod
	LabelRun       = "runner.birdflock.io/run"      // github.run_id
	LabelAttempt   = "runner.birdflock.io/attempt"  // github.run_attempt
	LabelJob       = "runner.birdflock.io/job"      // the job id (label-safe)
	AnnotationLeg  = "runner.birdflock.io/leg"      // the leg's key: job id and matrix values
)

// containerName is the leg container's name in its pod.
const containerName = "job"

// Leg says which leg a pod runs.
type Leg struct {
	RunID   int
	Attempt int
	Job     string   // the job id
	Key     string   // the leg's key in its run: "build (1.22, linux)"
	Labels  []string // the job's runs-on labels
	// Timeout bounds the pod's life (activeDeadlineSeconds) beyond the
	// start: the job's timeout-minutes and some margin. 0: none.
	TimeoutSeconds int64
	// Log, when set, receives what the job's log should say about the
	// pod (its name, its node).
	Log func(text string)
	// Container, when set, is the job's container:: the leg's container
	// runs its image, with runner's binary copied in beside by an init
	// container of the template's image, as its user (numeric), in its
	// workdir, with its hostname.
	Container *run.LegContainer
	// Services are the job's services, as containers of the pod beside
	// the leg's (localhost; each label a host alias of 127.0.0.1).
	Services []run.LegService

	secret string // the leg's Secret (secret.go): services' secret env, credentials
	// pullSecrets are the pod's image pull Secrets: the leg's Secret when
	// it holds credentials, after its service account's own (the
	// admission adds those only to a pod that names none).
	pullSecrets []corev1.LocalObjectReference
}

// The job container's own runner: an emptyDir the init container copies
// runner's static binary into.
const (
	runnerDir    = "/__runner"
	runnerVolume = "runner-bin"
)

// workDir holds a leg's work directories in its pod (run.LegWorkDir),
// each an emptyDir: a Docker action's ephemeral container mounts them
// (an ephemeral container may not mount a volume's subPath).
const workDir = "/__w"

var workVolumes = []struct{ name, dir string }{
	{"work-workspace", "workspace"},
	{"work-temp", "_temp"},
	{"work-home", "_temp/_github_home"},
	{"work-file-commands", "_temp/_runner_file_commands"},
	{"work-workflow", "_github_workflow"},
}

var unsafeLabel = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// healthBudget is how long the leg's services' health checks may take to
// pass, as docker counts: start period plus retries of interval and
// timeout, the longest over the services; 0 without health checks.
func (leg Leg) healthBudget() time.Duration {
	var most time.Duration
	for _, s := range leg.Services {
		h := s.Health
		if h.HealthCmd == "" {
			continue
		}
		d := h.HealthStartPeriod + time.Duration(max(h.HealthRetries, 1))*(time.Duration(seconds(h.HealthInterval, 30))*time.Second+time.Duration(seconds(h.HealthTimeout, 30))*time.Second)
		most = max(most, d)
	}
	return most
}

// serviceContainer is the name of a service's container in a leg pod.
func serviceContainer(label string) string { return "svc-" + dnsLabel(label, 50) }

// dnsLabel makes s a part of a DNS-1123 label (pod and container names):
// lower case, [a-z0-9-], at most n characters, no dash at either end.
func dnsLabel(s string, n int) string {
	s = strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(labelValue(s)))
	if len(s) > n {
		s = s[:n]
	}
	return strings.Trim(s, "-")
}

// numericUser reads docker's --user as a pod takes it: uid or uid:gid
// (gid -1 when not given). A name needs the image's /etc/passwd, which a
// pod spec cannot consult.
func numericUser(u string) (uid, gid int64, err error) {
	us, gs, hasGroup := strings.Cut(u, ":")
	gid = -1
	if uid, err = strconv.ParseInt(us, 10, 64); err != nil || uid < 0 {
		return 0, 0, fmt.Errorf("container --user %s: a pod runs as a numeric uid (runAsUser): give --user UID or UID:GID", u)
	}
	if hasGroup {
		if gid, err = strconv.ParseInt(gs, 10, 64); err != nil || gid < 0 {
			return 0, 0, fmt.Errorf("container --user %s: a pod runs as a numeric gid (runAsGroup): give --user UID:GID", u)
		}
	}
	return uid, gid, nil
}

// seconds is d in whole seconds (at least 1), def when d is 0.
func seconds(d time.Duration, def int32) int32 {
	if d <= 0 {
		return def
	}
	return int32(max(d/time.Second, 1))
}

// labelValue makes s a valid label value: at most 63 characters of
// [A-Za-z0-9._-], beginning and ending with an alphanumeric.
func labelValue(s string) string {
	s = unsafeLabel.ReplaceAllString(s, "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-._")
}

// podName is the prefix of a leg pod's generated name: runner-<job>-.
func podName(job string) string { return "runner-" + dnsLabel(job, 40) + "-" }

// instanceSelector selects the pods of one controller instance.
func instanceSelector(instance string) string {
	return labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy, LabelInstance: labelValue(instance)}).String()
}

// env is the leg container's env from the template's.
func (t PodTemplate) env() []corev1.EnvVar {
	var env []corev1.EnvVar
	for _, e := range t.Env {
		env = append(env, corev1.EnvVar{Name: e.Name, Value: e.Value})
	}
	return env
}

// legLabels are the labels of leg's pod (and of its Secret).
func legLabels(instance string, leg Leg) map[string]string {
	return map[string]string{
		LabelManagedBy: ManagedBy,
		LabelInstance:  labelValue(instance),
		LabelRun:       strconv.Itoa(leg.RunID),
		LabelAttempt:   strconv.Itoa(leg.Attempt),
		LabelJob:       labelValue(leg.Job),
	}
}

// legPod is the pod that runs leg for the controller instance.
func (c *Config) legPod(instance, namespace string, leg Leg) *corev1.Pod {
	t := c.template(leg.Labels)
	grace := int64(c.grace().Seconds())
	no := false
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: podName(leg.Job),
			Namespace:    namespace,
			Labels:       legLabels(instance, leg),
			Annotations:  map[string]string{AnnotationLeg: leg.Key},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			NodeSelector:                  t.NodeSelector,
			Tolerations:                   t.Tolerations,
			ServiceAccountName:            t.ServiceAccountName,
			// A leg's steps get no cluster credentials unless its
			// template names a service account for them.
			AutomountServiceAccountToken: &no,
			EnableServiceLinks:           &no,
			Containers: []corev1.Container{{
				Name:            containerName,
				Image:           t.Image,
				ImagePullPolicy: t.PullPolicy,
				Command:         []string{c.binary(), "job", "--stdio"},
				Stdin:           true,
				StdinOnce:       true,
				Resources:       t.Resources,
				WorkingDir:      "/",
				Env:             t.env(),
			}},
		},
	}
	// The job's work directories, each a volume of its own, so that a
	// Docker action's container (ephemeral, stepcontainer.go) mounts
	// them where GitHub does.
	for _, v := range workVolumes {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: v.name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: v.name, MountPath: path.Join(workDir, v.dir)})
	}
	if ctr := leg.Container; ctr != nil {
		// The job's container: image, as on GitHub its steps run in
		// it; runner (static) comes from the template's image.
		job := &p.Spec.Containers[0]
		job.Image, job.ImagePullPolicy = ctr.Image, pullPolicy(t, ctr.Credentials)
		if ctr.Workdir != "" {
			job.WorkingDir = ctr.Workdir
		}
		if ctr.User != "" {
			uid, gid, _ := numericUser(ctr.User) // checked by Open
			job.SecurityContext = &corev1.SecurityContext{RunAsUser: &uid}
			if gid >= 0 {
				job.SecurityContext.RunAsGroup = &gid
			}
		}
		p.Spec.Hostname = ctr.Hostname
		job.Command = []string{runnerDir + "/runner", "job", "--stdio"}
		copyIn := "cp " + c.binary() + " " + runnerDir + "/runner && mkdir -p " + runnerDir + "/tmp && chmod 1777 " + runnerDir + "/tmp"
		if ctr.Node {
			// The template image's node too, for JavaScript actions
			// (as GitHub mounts its own node into a job's container);
			// runner uses it if it runs in the job's image.
			// Optional: a failed copy leaves none, and the leg says so
			// if an action needs it.
			job.Env = append(job.Env, corev1.EnvVar{Name: run.BundledNodeEnv, Value: runnerDir + "/node"})
			copyIn += " && if n=$(command -v node); then cp \"$n\" " + runnerDir + "/node || rm -f " + runnerDir + "/node; fi"
		}
		job.Env = append(job.Env, corev1.EnvVar{Name: "TMPDIR", Value: runnerDir + "/tmp"})
		job.VolumeMounts = append(job.VolumeMounts, corev1.VolumeMount{Name: runnerVolume, MountPath: runnerDir})
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: runnerVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		p.Spec.InitContainers = []corev1.Container{{
			Name: "runner", Image: t.Image, ImagePullPolicy: t.PullPolicy,
			Command:      []string{"/bin/sh", "-c", copyIn},
			VolumeMounts: []corev1.VolumeMount{{Name: runnerVolume, MountPath: runnerDir}},
		}}
	}
	var aliases []string
	for i, s := range leg.Services {
		sc := corev1.Container{Name: serviceContainer(s.Label), Image: s.Image, ImagePullPolicy: pullPolicy(t, s.Credentials)}
		if s.Health.EntrypointSet {
			// docker's --entrypoint: one word, and the image's Cmd
			// dropped, as a pod's command without args does.
			sc.Command = []string{literal(s.Health.Entrypoint)}
		}
		sc.Env = envVars(s.Env)
		sc.Env = append(sc.Env, secretEnv(leg.secret, i, s.SecretEnv)...)
		for _, port := range s.Ports {
			sc.Ports = append(sc.Ports, corev1.ContainerPort{ContainerPort: int32(port)})
		}
		if h := s.Health; h.HealthCmd != "" {
			// docker's health check as the kubelet's readiness probe;
			// the leg attaches once every service is ready.
			sc.ReadinessProbe = &corev1.Probe{
				ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", h.HealthCmd}}},
				PeriodSeconds:    seconds(h.HealthInterval, 30),
				TimeoutSeconds:   seconds(h.HealthTimeout, 30),
				FailureThreshold: int32(max(h.HealthRetries, 1)),
			}
		}
		p.Spec.Containers = append(p.Spec.Containers, sc)
		aliases = append(aliases, s.Label)
	}
	if len(aliases) > 0 {
		p.Spec.HostAliases = []corev1.HostAlias{{IP: "127.0.0.1", Hostnames: aliases}}
	}
	p.Spec.ImagePullSecrets = leg.pullSecrets
	if t.ServiceAccountName != "" {
		yes := true
		p.Spec.AutomountServiceAccountToken = &yes
	}
	if leg.TimeoutSeconds > 0 {
		d := leg.TimeoutSeconds
		p.Spec.ActiveDeadlineSeconds = &d
	}
	return p
}

// pullPolicy is the pull policy of a container: or service image: the
// template's, except Always for one with credentials: (as GitHub pulls
// it for each job), so that the node checks them and a job without them
// cannot run what another job pulled with them onto that node.
func pullPolicy(t PodTemplate, creds *registry.Credential) corev1.PullPolicy {
	if creds != nil {
		return corev1.PullAlways
	}
	return t.PullPolicy
}
