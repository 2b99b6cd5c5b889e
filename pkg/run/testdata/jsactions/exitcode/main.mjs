import * as core from '@actions/core';

core.info('setting the exit code');
process.exitCode = Number(core.getInput('code'));
