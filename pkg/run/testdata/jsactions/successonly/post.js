console.log('post of successonly');
