import * as core from '@actions/core';
core.info(`post ${core.getState('label')} pre-state=[${core.getState('from-pre')}]`);
