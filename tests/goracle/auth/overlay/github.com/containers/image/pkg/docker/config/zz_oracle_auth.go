package config

// A thin exported wrapper around an unexported containers/image function, compiled into
// this package only for the auth oracle (go build -overlay); nothing here re-implements it.

import "github.com/containers/image/v5/types"

// OracleGetCredentialsWithHomeDir exposes getCredentialsWithHomeDir: GetCredentials with the
// home directory given (homedir.Get reads $HOME once per process, so a test cannot move it).
func OracleGetCredentialsWithHomeDir(sys *types.SystemContext, key, homeDir string) (types.DockerAuthConfig, error) {
	return getCredentialsWithHomeDir(sys, key, homeDir)
}
