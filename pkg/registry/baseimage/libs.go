package baseimage

import "context"

// SharedLibraries lists the files ldd says the binary bin loads, the
// dynamic loader included: what an image needs beside a dynamically linked
// Debian binary (the Kubernetes test cluster's toolchain image, for node).
func SharedLibraries(ctx context.Context, bin string) ([]string, error) {
	return sharedLibraries(ctx, bin)
}
