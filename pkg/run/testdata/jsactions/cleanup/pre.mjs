import * as core from '@actions/core';
core.info(`pre ${core.getInput('label')}`);
core.saveState('from-pre', `pre of ${core.getInput('label')}`);
