import * as core from '@actions/core';

core.info(`post state phase=[${core.getState('phase')}] legacy=[${core.getState('legacy')}]`);
core.info(`post token=${core.getInput('token')} env=${process.env.FROM_ACTION}`);
