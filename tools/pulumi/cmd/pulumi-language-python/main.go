// Command pulumi-language-python is site-storage's own Python language host for the Pulumi engine.
//
// Pulumi's host is the module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3,
// which the Go module proxy these machines reach refuses at every version (403 for its version
// list, for v3.276.0 and for the pseudo-versions other projects pin), while the CLI module
// (pkg/v3) is served. This host does the part of Pulumi's that `pulumi preview/up/refresh/
// destroy` and policy packs need, with Pulumi's own packages: the engine's gRPC contract
// (pulumirpc), the virtualenv rules of the Python toolchain package, and the program runner
// pulumi-language-python-exec that ships in the pinned SDK module. It runs the program with the
// virtualenv's python as Pulumi's host does, but never runs `uv sync` or `pip install` first:
// `make setup` installs the locked dependencies. Operators use the Pulumi CLI release, whose host
// does both.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

const (
	execScript = "pulumi-language-python-exec" // installed beside this binary (tools/pulumi/build.py)
	// The exit code by which pulumi-language-python-exec says it already showed the user the error.
	userActionableExit = 32
)

// The Python side of GetRequiredPackages and GetProgramDependencies: every installed distribution,
// and the resource plugin a `pulumi-plugin.json` in it names (Pulumi's packages ship one).
const listPackagesScript = `
import importlib.metadata as md, json, sys
out = []
for dist in md.distributions():
    name = dist.metadata["Name"]
    plugin = None
    for f in dist.files or ():
        if f.name in ("pulumi-plugin.json", "pulumiplugin.json"):
            try:
                plugin = json.loads(f.read_text())
            except Exception:
                plugin = None
            break
    out.append({"name": name, "version": dist.version, "plugin": plugin})
json.dump(out, sys.stdout)
`

func main() {
	// Flags Pulumi's host accepts; the engine passes only its own address, as the last argument.
	flag.String("tracing", "", "Zipkin-compatible tracing endpoint (ignored)")
	flag.Parse()
	engineAddress := ""
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[len(args)-1]
	}
	self, err := os.Executable()
	if err != nil {
		fail(fmt.Errorf("cannot find this executable: %w", err))
	}
	host := &languageHost{engineAddress: engineAddress, exec: filepath.Join(filepath.Dir(self), execScript)}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fail(fmt.Errorf("could not start the language host: %w", err))
	}
	fmt.Printf("%d\n", handle.Port) // the engine reads the port from the first line
	if err := <-handle.Done; err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	exec          string
}

// virtualenv is the program's Python environment as Pulumi's toolchains resolve it: the
// `virtualenv` runtime option relative to the project root (`.venv` by default for uv).
type virtualenv struct {
	dir    string
	python string
}

func resolveVirtualenv(info *pulumirpc.ProgramInfo) (virtualenv, error) {
	options := map[string]any{}
	if info.GetOptions() != nil {
		options = info.GetOptions().AsMap()
	}
	chosen, _ := options["toolchain"].(string)
	dir, _ := options["virtualenv"].(string)
	switch chosen {
	case "", "pip", "uv":
	default:
		return virtualenv{}, fmt.Errorf("toolchain %q: this language host runs pip and uv virtualenvs only", chosen)
	}
	if dir == "" && chosen == "uv" {
		dir = ".venv"
	}
	if dir == "" {
		return virtualenv{}, errors.New("set runtime.options.virtualenv in Pulumi.yaml: this language host needs one")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(info.GetRootDirectory(), dir)
	}
	if !toolchain.IsVirtualEnv(dir) {
		return virtualenv{}, fmt.Errorf("%s is not a virtualenv with a python in it; run `make setup`", dir)
	}
	return virtualenv{dir: dir, python: filepath.Join(dir, "bin", "python")}, nil
}

func (v virtualenv) command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, v.python, args...)
	cmd.Dir = dir
	cmd.Env = toolchain.ActivateVirtualEnv(os.Environ(), v.dir)
	return cmd
}

func (h *languageHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

type installedPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Plugin  *struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"plugin"`
}

func installedPackages(ctx context.Context, info *pulumirpc.ProgramInfo) ([]installedPackage, error) {
	venv, err := resolveVirtualenv(info)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := venv.command(ctx, info.GetProgramDirectory(), "-c", listPackagesScript)
	cmd.Stderr = &stderr
	output, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the virtualenv's packages: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var packages []installedPackage
	if err := json.Unmarshal(output, &packages); err != nil {
		return nil, fmt.Errorf("listing the virtualenv's packages: %w", err)
	}
	return packages, nil
}

// GetRequiredPackages reports the resource plugins of the installed Pulumi packages, as Pulumi's
// host does; the engine loads one only when the program registers a resource of it.
func (h *languageHost) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	packages, err := installedPackages(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	var required []*pulumirpc.PackageDependency
	for _, pkg := range packages {
		if pkg.Plugin == nil || !pkg.Plugin.Resource {
			continue
		}
		name, pluginVersion := pkg.Plugin.Name, pkg.Plugin.Version
		if name == "" {
			name = strings.TrimPrefix(pkg.Name, "pulumi-")
		}
		if pluginVersion == "" {
			pluginVersion = pkg.Version
		}
		required = append(required, &pulumirpc.PackageDependency{
			Name:    name,
			Kind:    "resource",
			Version: "v" + strings.TrimPrefix(pluginVersion, "v"),
			Server:  pkg.Plugin.Server,
		})
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: required}, nil
}

func (h *languageHost) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	packages, err := installedPackages(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	dependencies := make([]*pulumirpc.DependencyInfo, 0, len(packages))
	for _, pkg := range packages {
		dependencies = append(dependencies, &pulumirpc.DependencyInfo{Name: pkg.Name, Version: pkg.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: dependencies}, nil
}

func (h *languageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	venv, err := resolveVirtualenv(req.GetInfo())
	if err != nil {
		return nil, err
	}
	output, err := venv.command(ctx, req.GetInfo().GetProgramDirectory(), "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("python --version: %w", err)
	}
	pythonVersion := strings.TrimSpace(strings.TrimPrefix(string(output), "Python "))
	return &pulumirpc.AboutResponse{Executable: venv.python, Version: pythonVersion}, nil
}

// Run runs the program through pulumi-language-python-exec with the arguments and environment
// that script reads (the same contract Pulumi's host keeps with it).
func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	venv, err := resolveVirtualenv(info)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	args := []string{"-u", h.exec}
	flagArg := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	flagArg("monitor", req.GetMonitorAddress())
	flagArg("engine", h.engineAddress)
	flagArg("project", req.GetProject())
	flagArg("root_directory", info.GetRootDirectory())
	flagArg("stack", req.GetStack())
	flagArg("pwd", req.GetPwd())
	flagArg("dry_run", strconv.FormatBool(req.GetDryRun()))
	flagArg("parallel", strconv.Itoa(int(req.GetParallel())))
	flagArg("organization", req.GetOrganization())
	program := info.GetEntryPoint()
	if program == "" {
		program = "."
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	// A stack with no config at all sends none: the runner needs an empty map and list, not null.
	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{}
	}
	secretKeyList := req.GetConfigSecretKeys()
	if secretKeyList == nil {
		secretKeyList = []string{}
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(secretKeyList)
	if err != nil {
		return nil, err
	}
	cmd := venv.command(ctx, info.GetProgramDirectory(), args...)
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == userActionableExit {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with code %d", exitErr.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the program: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin runs a Python plugin directory (a policy pack) with its own virtualenv, streaming
// its output to the engine, which reads the plugin's port from its first stdout line.
func (h *languageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	info := req.GetInfo()
	venv, err := resolveVirtualenv(info)
	if err != nil {
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	entry := filepath.Join(info.GetProgramDirectory(), info.GetEntryPoint())
	cmd := venv.command(server.Context(), req.GetPwd(), append([]string{"-u", entry}, req.GetArgs()...)...)
	cmd.Env = append(cmd.Env, req.GetEnv()...)
	var send sync.Mutex
	cmd.Stdout = &streamWriter{send: &send, server: server, stdout: true}
	cmd.Stderr = &streamWriter{send: &send, server: server}
	exitCode := int32(0)
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return status.Error(codes.Internal, fmt.Sprintf("could not run %s: %v", entry, err))
		}
		exitCode = int32(exitErr.ExitCode())
	}
	send.Lock()
	defer send.Unlock()
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: exitCode}})
}

type streamWriter struct {
	send   *sync.Mutex
	server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]
	stdout bool
}

func (w *streamWriter) Write(p []byte) (int, error) {
	chunk := bytes.Clone(p)
	message := &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: chunk}}
	if w.stdout {
		message = &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: chunk}}
	}
	w.send.Lock()
	defer w.send.Unlock()
	if err := w.server.Send(message); err != nil {
		return 0, err
	}
	return len(p), nil
}

var _ io.Writer = (*streamWriter)(nil)

// InstallDependencies is `pulumi install`; here `make setup` installs the locked dependencies.
func (h *languageHost) InstallDependencies(
	*pulumirpc.InstallDependenciesRequest, grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	return status.Error(codes.Unimplemented, "this language host installs nothing: run `make setup`")
}
