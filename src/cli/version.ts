// The package version the CLI reports (`tokenfence --version`); a test holds it equal to package.json's.
export const VERSION = '0.1.0';
