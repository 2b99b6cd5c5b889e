package steps

// Default returns every built-in action, registered by name and alias.
func Default() *Set {
	return NewSet(
		// one line per built-in, in the order of the bird-flock pipeline
		Checkout{},
		RenderTemplates{},
		LintYAML{},
		ValidateManifests{},
		&BuildImage{},
		UploadArtifact{},
		DownloadArtifact{},
		TestImage{},
		PushImage{},
		GitCommitPush{},
	)
}
