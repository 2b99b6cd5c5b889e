package steps

// Default returns every built-in action, registered by name and alias.
func Default() *Set {
	return NewSet(
		UploadArtifact{},
		DownloadArtifact{},
	)
}
